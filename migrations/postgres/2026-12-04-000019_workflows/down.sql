DROP TABLE workflow_clocks;
DROP TABLE workflow_enrollments;
DROP TABLE workflow_steps;
DROP TABLE workflow_runs;
