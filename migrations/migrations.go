// Package migrations embeds the SQL migrations, one folder per dialect, numbered
// NNNN_name.sql; each file is applied once, in one transaction.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
