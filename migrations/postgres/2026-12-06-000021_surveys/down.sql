DROP TABLE survey_responses;
DROP TABLE survey_requests;
