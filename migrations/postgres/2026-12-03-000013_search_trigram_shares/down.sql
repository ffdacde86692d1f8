DROP TABLE search_trigrams;
