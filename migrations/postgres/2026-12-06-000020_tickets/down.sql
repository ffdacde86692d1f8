DROP TABLE sla_alerts;
DROP TABLE ticket_replies;
DROP TABLE tickets;
