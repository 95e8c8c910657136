"""Chapter 4: storage engines (B+-tree, LSM tree) and PostgreSQL-style MVCC."""
