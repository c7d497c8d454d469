// Package bench holds scimd's Go benchmarks: each SCIM operation measured through the real
// router beside the floor, the same row work done with raw pgx (PostgreSQL) or database/sql
// (SQLite) on the same database in the same run. The numbers and how to read them are in
// BENCHMARKS.md; the package has no code of its own.
package bench
