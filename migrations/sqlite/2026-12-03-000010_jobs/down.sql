DROP TABLE job_probes;
DROP TABLE jobs;
