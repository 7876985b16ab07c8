"""newspipe: news feeds to stories in DuckDB."""
