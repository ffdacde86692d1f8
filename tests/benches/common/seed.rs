//! Seeding a benchmark database straight through SQL: `rows` contacts owned by one user.

use e2e::Backend;

/// One INSERT that makes `rows` contacts owned by `owner`, one a second back from now.
pub fn seed_sql(backend: Backend, rows: u64, owner: &str) -> String {
    // Every row gets a unique email token, one of 1000 last names, one of 5 stages and a
    // budget from 0 to 9999; search text is what the application would store.
    match backend {
        Backend::Postgres => format!(
            "INSERT INTO contacts (id, first_name, last_name, sort_name, emails, primary_email, owner_id, tags, \
             lifecycle_stage, custom_fields, search_text, version, created_at, updated_at) \
             SELECT '00000000-0000-7000-8000-' || lpad(g::text, 12, '0'), 'First' || g, 'Name' || (g % 1000), \
             lower('Name' || (g % 1000) || ' First' || g), \
             '[{{\"email\":\"person' || g || '@example.com\",\"label\":null,\"primary\":true}}]', \
             'person' || g || '@example.com', '{owner}', '[]', \
             (ARRAY['awareness','acquisition','conversion','retention','loyalty'])[1 + g % 5], \
             '{{\"budget\":' || (g % 10000) || '}}', \
             lower('First' || g || ' Name' || (g % 1000) || ' person' || g || '@example.com'), 1, \
             now() - g * interval '1 second', now() - g * interval '1 second' \
             FROM generate_series(1, {rows}) g"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) \
             INSERT INTO contacts (id, first_name, last_name, sort_name, emails, primary_email, owner_id, tags, \
             lifecycle_stage, custom_fields, search_text, version, created_at, updated_at) \
             SELECT printf('00000000-0000-7000-8000-%012d', n), 'First' || n, 'Name' || (n % 1000), \
             lower('Name' || (n % 1000) || ' First' || n), \
             '[{{\"email\":\"person' || n || '@example.com\",\"label\":null,\"primary\":true}}]', \
             'person' || n || '@example.com', '{owner}', '[]', \
             CASE n % 5 WHEN 0 THEN 'awareness' WHEN 1 THEN 'acquisition' WHEN 2 THEN 'conversion' \
             WHEN 3 THEN 'retention' ELSE 'loyalty' END, \
             '{{\"budget\":' || (n % 10000) || '}}', \
             lower('First' || n || ' Name' || (n % 1000) || ' person' || n || '@example.com'), 1, \
             strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || n || ' seconds'), \
             strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || n || ' seconds') FROM g"
        ),
    }
}
