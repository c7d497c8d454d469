// Package api holds the published contract of scimd: the SCIM schema, resource-type and
// service-provider-config documents served by discovery (one source, embedded here).
package api

import "embed"

// Files holds schemas/*.json, resource_types.json and service_provider_config.json.
//
//go:embed schemas/*.json resource_types.json service_provider_config.json
var Files embed.FS
