DROP TABLE rate_windows;
DROP TABLE event_cursors;
