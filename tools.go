//go:build tools

package convsync

import (
	_ "github.com/apache/arrow-go/v18/arrow"
	_ "github.com/cenkalti/backoff/v4"
	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/robfig/cron/v3"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/time/rate"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/goccy/go-json"
)
