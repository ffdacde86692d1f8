//! Table definitions, identical for both backends (see `migrations/`).

diesel::table! {
    instance_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        builtin -> Bool,
        grants -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role_id -> Text,
        active -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    teams (id) {
        id -> Text,
        name -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    team_members (team_id, user_id) {
        team_id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    token_families (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        role_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        name -> Text,
        sort_name -> Text,
        domain -> Nullable<Text>,
        industry -> Nullable<Text>,
        employee_count -> Nullable<BigInt>,
        annual_revenue_minor -> Nullable<BigInt>,
        annual_revenue_currency -> Nullable<Text>,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        tags -> Text,
        custom_fields -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        merged_into -> Nullable<Text>,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        sort_name -> Text,
        emails -> Text,
        phones -> Text,
        primary_email -> Nullable<Text>,
        job_title -> Nullable<Text>,
        company_id -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        tags -> Text,
        address -> Nullable<Text>,
        source -> Nullable<Text>,
        lifecycle_stage -> Nullable<Text>,
        notes -> Nullable<Text>,
        custom_fields -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        merged_into -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (caller_id, key) {
        caller_id -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        location -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> Text,
        name -> Text,
        sort_name -> Text,
        sku -> Nullable<Text>,
        description -> Nullable<Text>,
        unit_price_minor -> BigInt,
        currency -> Text,
        active -> Bool,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        tags -> Text,
        custom_fields -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(users -> roles (role_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_members -> users (user_id));
diesel::joinable!(refresh_tokens -> token_families (family_id));
diesel::joinable!(contacts -> companies (company_id));

diesel::allow_tables_to_appear_in_same_query!(
    instance_settings,
    roles,
    users,
    teams,
    team_members,
    token_families,
    refresh_tokens,
    api_keys,
    companies,
    contacts,
    idempotency_keys,
    pipelines,
    pipeline_stages,
    leads,
    deals,
    activities,
    tasks,
    record_links,
    record_changes,
    lead_events,
    definitions,
    audit_events,
    record_keys,
    imports,
    import_errors,
    import_files,
    products,
    events,
    jobs,
    job_probes,
    webhook_secrets,
    webhook_deliveries,
    webhook_attempts,
    emails,
    comments,
    notifications,
    notification_preferences,
    workflow_runs,
    workflow_steps,
    workflow_enrollments,
    workflow_clocks,
    tickets,
    ticket_replies,
    sla_alerts,
    survey_requests,
    survey_responses,
    articles,
);

diesel::table! {
    pipelines (id) {
        id -> Text,
        name -> Text,
        position -> Integer,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pipeline_stages (id) {
        id -> Text,
        pipeline_id -> Text,
        name -> Text,
        position -> Integer,
        probability -> Integer,
        kind -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    leads (id) {
        id -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        sort_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        company_name -> Nullable<Text>,
        job_title -> Nullable<Text>,
        website -> Nullable<Text>,
        industry -> Nullable<Text>,
        country -> Nullable<Text>,
        employee_count -> Nullable<BigInt>,
        source -> Nullable<Text>,
        campaign -> Nullable<Text>,
        status -> Text,
        score -> BigInt,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        tags -> Text,
        notes -> Nullable<Text>,
        conversion -> Nullable<Text>,
        custom_fields -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    deals (id) {
        id -> Text,
        name -> Text,
        sort_name -> Text,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        expected_close_date -> Nullable<Date>,
        pipeline_id -> Text,
        stage_id -> Text,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        contact_ids -> Text,
        next_step -> Nullable<Text>,
        close_reason -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        lead_id -> Nullable<Text>,
        tags -> Text,
        custom_fields -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    activities (id) {
        id -> Text,
        activity_type -> Text,
        subject -> Nullable<Text>,
        sort_name -> Text,
        body -> Nullable<Text>,
        direction -> Nullable<Text>,
        occurred_at -> Timestamp,
        duration_seconds -> Nullable<BigInt>,
        outcome -> Nullable<Text>,
        participants -> Text,
        links -> Text,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        tags -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tasks (id) {
        id -> Text,
        title -> Text,
        sort_name -> Text,
        description -> Nullable<Text>,
        due_at -> Nullable<Timestamp>,
        priority -> Text,
        status -> Text,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        links -> Text,
        reminder_at -> Nullable<Timestamp>,
        reminder_acknowledged_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        activity_id -> Nullable<Text>,
        tags -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    record_links (item_type, item_id, record_type, record_id) {
        item_type -> Text,
        item_id -> Text,
        record_type -> Text,
        record_id -> Text,
    }
}

diesel::table! {
    record_changes (id) {
        id -> Text,
        record_type -> Text,
        record_id -> Text,
        field -> Text,
        from_value -> Nullable<Text>,
        to_value -> Text,
        changed_at -> Timestamp,
        changed_by -> Nullable<Text>,
        api_key_id -> Nullable<Text>,
    }
}

diesel::table! {
    lead_events (id) {
        id -> Text,
        lead_id -> Text,
        event_type -> Text,
        occurred_at -> Timestamp,
        properties -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    definitions (id) {
        id -> Text,
        kind -> Text,
        lookup_key -> Nullable<Text>,
        body -> Text,
        position -> Integer,
        counter -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> Timestamp,
        action -> Text,
        record_type -> Nullable<Text>,
        record_id -> Nullable<Text>,
        actor_user_id -> Nullable<Text>,
        actor_api_key_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_address -> Nullable<Text>,
        changes -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    record_keys (record_type, record_id, kind, value) {
        record_type -> Text,
        record_id -> Text,
        kind -> Text,
        value -> Text,
    }
}

diesel::table! {
    custom_fields (id) {
        id -> Text,
        record_type -> Text,
        field_key -> Text,
        label -> Text,
        field_type -> Text,
        required -> Bool,
        default_value -> Nullable<Text>,
        help_text -> Nullable<Text>,
        position -> Integer,
        options -> Text,
        active -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    imports (id) {
        id -> Text,
        record_type -> Text,
        status -> Text,
        dedupe -> Text,
        file_name -> Nullable<Text>,
        headers -> Text,
        mapping -> Text,
        total_rows -> BigInt,
        processed_rows -> BigInt,
        created_count -> BigInt,
        updated_count -> BigInt,
        skipped_count -> BigInt,
        failed_count -> BigInt,
        error -> Nullable<Text>,
        user_id -> Text,
        api_key_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_address -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    import_files (import_id) {
        import_id -> Text,
        content -> Text,
    }
}

diesel::table! {
    import_errors (import_id, row_number) {
        import_id -> Text,
        row_number -> BigInt,
        line -> BigInt,
        errors -> Text,
        cells -> Nullable<Text>,
    }
}

diesel::table! {
    events (position) {
        position -> BigInt,
        tx_id -> BigInt,
        id -> Text,
        event_type -> Text,
        record_type -> Text,
        record_id -> Text,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        actor_kind -> Text,
        actor_user_id -> Nullable<Text>,
        actor_api_key_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        causation_id -> Nullable<Text>,
        depth -> Integer,
        occurred_at -> Timestamp,
        payload -> Text,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        payload -> Text,
        state -> Text,
        priority -> Integer,
        run_at -> Timestamp,
        attempt -> Integer,
        max_attempts -> Integer,
        unique_key -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        fencing_token -> BigInt,
        errors -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    job_probes (job_id) {
        job_id -> Text,
        worker_id -> Text,
        runs -> Integer,
        enqueued_at -> Timestamp,
        started_at -> Timestamp,
    }
}

diesel::table! {
    event_cursors (name) {
        name -> Text,
        tx_id -> BigInt,
        position -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    rate_windows (key, window_start) {
        key -> Text,
        window_start -> BigInt,
        hits -> BigInt,
    }
}

diesel::table! {
    search_trigrams (table_name, trigram) {
        table_name -> Text,
        trigram -> Text,
        share -> Double,
    }
}

diesel::table! {
    webhook_secrets (endpoint_id) {
        endpoint_id -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_expires_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_type -> Text,
        body -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempt -> Integer,
        cause -> Text,
        started_at -> Timestamp,
        duration_ms -> BigInt,
        url -> Text,
        request_headers -> Text,
        status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    emails (id) {
        id -> Text,
        purpose -> Text,
        template_id -> Nullable<Text>,
        record_type -> Nullable<Text>,
        record_id -> Nullable<Text>,
        sender_id -> Text,
        recipient -> Text,
        subject -> Text,
        html -> Nullable<Text>,
        text -> Nullable<Text>,
        state -> Text,
        message_id -> Text,
        error -> Nullable<Text>,
        activity_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    comments (id) {
        id -> Text,
        record_type -> Text,
        record_id -> Text,
        author_id -> Text,
        body -> Text,
        mentions -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        record_type -> Nullable<Text>,
        record_id -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        comment_id -> Nullable<Text>,
        group_key -> Nullable<Text>,
        count -> Integer,
        message -> Text,
        read_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_preferences (user_id, kind) {
        user_id -> Text,
        kind -> Text,
        in_app -> Bool,
        email -> Bool,
    }
}

diesel::table! {
    workflow_runs (id) {
        id -> Text,
        workflow_id -> Text,
        workflow_version -> BigInt,
        workflow -> Text,
        record_type -> Text,
        record_id -> Text,
        event_id -> Nullable<Text>,
        depth -> Integer,
        run_as -> Text,
        started_by -> Nullable<Text>,
        state -> Text,
        position -> Integer,
        wait_until -> Nullable<Timestamp>,
        waiting_for -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workflow_steps (run_id, position) {
        run_id -> Text,
        position -> Integer,
        step_type -> Text,
        outcome -> Text,
        detail -> Nullable<Text>,
        error -> Nullable<Text>,
        attempts -> Integer,
        started_at -> Timestamp,
        finished_at -> Timestamp,
    }
}

diesel::table! {
    workflow_enrollments (workflow_id, record_id) {
        workflow_id -> Text,
        record_id -> Text,
        matching -> Bool,
        active_run_id -> Nullable<Text>,
        entered_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workflow_clocks (workflow_id) {
        workflow_id -> Text,
        handled_until -> Timestamp,
        pass_until -> Nullable<Timestamp>,
        pass_cursor -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tickets (id) {
        id -> Text,
        subject -> Text,
        sort_name -> Text,
        description -> Nullable<Text>,
        requester_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        channel -> Text,
        ticket_type -> Text,
        problem_id -> Nullable<Text>,
        priority -> Text,
        category -> Nullable<Text>,
        tier -> Text,
        status -> Text,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        tags -> Text,
        custom_fields -> Text,
        search_text -> Text,
        first_replied_at -> Nullable<Timestamp>,
        solved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ticket_replies (id) {
        id -> Text,
        ticket_id -> Text,
        activity_id -> Nullable<Text>,
        author -> Text,
        public -> Bool,
        replied_at -> Timestamp,
        replied_by -> Nullable<Text>,
    }
}

diesel::table! {
    sla_alerts (ticket_id, metric, alert, cycle_started_at) {
        ticket_id -> Text,
        metric -> Text,
        alert -> Text,
        cycle_started_at -> Timestamp,
        raised_at -> Timestamp,
    }
}

diesel::table! {
    survey_requests (id) {
        id -> Text,
        survey_id -> Text,
        token_hash -> Text,
        contact_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        touchpoint_type -> Text,
        touchpoint_id -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        email_id -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    survey_responses (request_id) {
        request_id -> Text,
        survey_id -> Text,
        score -> Integer,
        comment -> Nullable<Text>,
        activity_id -> Nullable<Text>,
        answered_at -> Timestamp,
    }
}

diesel::table! {
    articles (id) {
        id -> Text,
        title -> Text,
        sort_name -> Text,
        body -> Text,
        category -> Nullable<Text>,
        locale -> Text,
        status -> Text,
        related_ids -> Text,
        owner_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        tags -> Text,
        custom_fields -> Text,
        search_text -> Text,
        published_at -> Nullable<Timestamp>,
        view_count -> BigInt,
        helpful_count -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}
