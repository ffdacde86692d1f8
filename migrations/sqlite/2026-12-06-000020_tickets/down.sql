DROP TABLE sla_alerts;
DROP TABLE ticket_replies;
DROP TRIGGER tickets_search_update;
DROP TRIGGER tickets_search_delete;
DROP TRIGGER tickets_search_insert;
DROP TABLE tickets_search;
DROP TABLE tickets;
