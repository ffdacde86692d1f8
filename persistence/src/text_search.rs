//! A substring search over a record table's search text (`?q=`), on each backend the way its
//! index answers it fastest:
//! - SQLite: `LIKE` narrowed by the FTS5 trigram index where that narrows
//!   (`search::text_prefilter`);
//! - PostgreSQL: `LIKE` served by the pg_trgm GIN index, except that trigrams most rows share
//!   are left out of what the index is asked for. GIN intersects the posting lists of every
//!   trigram of the pattern, and the list of a trigram in every row (`per` of `person…`) is
//!   read whole: `%person140000%` read 333 index pages in 200,000 contacts, `%n140000%` 15. So
//!   the index is asked for the longest run of the term's uncommon trigrams, and the whole
//!   term is checked (`strpos`, which no index serves) on the rows it finds. Which trigrams are
//!   common is sampled by the maintenance job into `search_trigrams`; without figures the
//!   plain `LIKE` is used. The answer never depends on the figures, only the speed.

use diesel::prelude::*;
use diesel::sql_types::{Double, Text};

use crate::connection::Backend;
use crate::error::StoreResult;
use crate::schema::search_trigrams;
use crate::sql::{Dialect, Fragment};
use crate::{DbConnection, contains_pattern};

/// A trigram in at least this share of a table's rows is common.
const COMMON_SHARE: f64 = 0.02;
/// Rows sampled per table when the shares are refreshed.
const SAMPLE_ROWS: f64 = 20_000.0;

/// The condition "the search text of `table` contains `term`" (`term` lower-cased already).
pub(crate) fn contains(conn: &mut DbConnection, table: &str, term: &str) -> StoreResult<Fragment> {
    let like = |text: &str| {
        Fragment::sql(&format!("{table}.search_text LIKE ")).text(contains_pattern(text)).push(" ESCAPE '\\'")
    };
    match Dialect::of(conn).0 {
        Backend::Sqlite => {
            let mut parts = vec![like(term)];
            parts.extend(crate::search::text_prefilter(conn, table, term));
            Ok(Fragment::all(parts))
        }
        Backend::Postgres => {
            let trigrams = trigrams_of(term);
            if trigrams.is_empty() {
                return Ok(like(term));
            }
            let common: Vec<String> = search_trigrams::table
                .filter(search_trigrams::table_name.eq(table))
                .filter(search_trigrams::trigram.eq_any(trigrams.iter().flatten().cloned().collect::<Vec<_>>()))
                .select(search_trigrams::trigram)
                .load(conn)?;
            Ok(match uncommon_run(term, &trigrams, &common) {
                Some(window) => Fragment::all(vec![
                    like(&window),
                    Fragment::sql(&format!("strpos({table}.search_text, ")).text(term.to_owned()).push(") > 0"),
                ]),
                None => like(term),
            })
        }
    }
}

/// The trigram starting at each character of `term` as pg_trgm indexes it, or `None` where
/// the three characters are not all letters or digits (pg_trgm splits words there).
fn trigrams_of(term: &str) -> Vec<Option<String>> {
    let chars: Vec<char> = term.chars().collect();
    chars.windows(3).map(|three| three.iter().all(|c| c.is_alphanumeric()).then(|| three.iter().collect())).collect()
}

/// The longest part of `term` made only of uncommon trigrams, when the term also holds common
/// ones (otherwise the whole term is already the best thing to ask the index for).
fn uncommon_run(term: &str, trigrams: &[Option<String>], common: &[String]) -> Option<String> {
    let is_uncommon = |trigram: &Option<String>| trigram.as_ref().is_some_and(|t| !common.contains(t));
    if common.is_empty() || trigrams.iter().all(|trigram| trigram.is_none() || is_uncommon(trigram)) {
        return None;
    }
    let (mut best, mut start) = (None::<(usize, usize)>, None::<usize>);
    for (at, trigram) in trigrams.iter().enumerate().chain(std::iter::once((trigrams.len(), &None))) {
        match (is_uncommon(trigram), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                if best.is_none_or(|(a, b)| at - from > b - a) {
                    best = Some((from, at));
                }
                start = None;
            }
            _ => {}
        }
    }
    let (from, to) = best?;
    // Trigrams `from..to` cover characters `from..to + 2`.
    Some(term.chars().skip(from).take(to - from + 2).collect())
}

/// Samples each searchable table's common trigrams into `search_trigrams` (PostgreSQL; SQLite
/// needs none). Returns how many it keeps.
pub fn refresh_shares(conn: &mut DbConnection) -> StoreResult<usize> {
    if Dialect::of(conn).0 != Backend::Postgres {
        return Ok(0);
    }
    #[derive(QueryableByName)]
    struct Estimate {
        #[diesel(sql_type = Double)]
        rows: f64,
    }
    let mut kept = 0;
    for spec in domain::registry::RECORD_TYPES {
        let table = spec.table();
        let estimate =
            diesel::sql_query("SELECT greatest(reltuples, 0)::float8 AS rows FROM pg_class WHERE relname = $1")
                .bind::<Text, _>(table)
                .get_result::<Estimate>(conn)
                .optional()?
                .map_or(0.0, |estimate| estimate.rows);
        let percent = if estimate > SAMPLE_ROWS { (SAMPLE_ROWS * 100.0 / estimate).max(0.01) } else { 100.0 };
        diesel::delete(search_trigrams::table.filter(search_trigrams::table_name.eq(table))).execute(conn)?;
        kept += diesel::sql_query(format!(
            "WITH sample AS (SELECT search_text FROM {table} TABLESAMPLE SYSTEM ({percent}) WHERE deleted_at IS NULL), \
             total AS (SELECT count(*)::float8 AS rows FROM sample) \
             INSERT INTO search_trigrams (table_name, trigram, share) \
             SELECT $1, trigram, count(*) / total.rows FROM sample, total, unnest(show_trgm(sample.search_text)) trigram \
             GROUP BY trigram, total.rows HAVING count(*) / total.rows >= $2"
        ))
        .bind::<Text, _>(table)
        .bind::<Double, _>(COMMON_SHARE)
        .execute(conn)?;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_asked_for_the_longest_run_of_uncommon_trigrams_when_common_ones_are_in_the_term() {
        let term = "person140000";
        let trigrams = trigrams_of(term);
        let common: Vec<String> = ["per", "ers", "rso", "son", "000"].map(String::from).to_vec();
        assert_eq!(uncommon_run(term, &trigrams, &common).as_deref(), Some("on1400"));
        assert_eq!(uncommon_run(term, &trigrams, &[]), None, "no figures: the whole term");
        assert_eq!(uncommon_run("zyxw", &trigrams_of("zyxw"), &common), None, "nothing common in it");
        let all: Vec<String> = trigrams.iter().flatten().cloned().collect();
        assert_eq!(uncommon_run(term, &trigrams, &all), None, "nothing uncommon to ask for");
    }

    #[test]
    fn characters_pg_trgm_splits_words_at_make_no_trigram() {
        assert_eq!(trigrams_of("ab@cd"), [None, None, None]);
        assert_eq!(trigrams_of("abc.d"), [Some("abc".to_owned()), None, None]);
    }
}
