package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestConfigCheck_PrintsEffectiveConfigMasked: the check prints every
// effective value as YAML that loads back to the same configuration, with
// the key and the Pushgateway password masked.
func TestConfigCheck_PrintsEffectiveConfigMasked(t *testing.T) {
	p := writeFile(t, "c.yaml", `source:
  start: 2025-01-01T00:00:00Z
  page_size: 50
schedule: "*/15 * * * *"
metrics:
  pushgateway: https://ops:hunter2@push.example.com
  textfile: /var/lib/node_exporter/convsync.prom
sync:
  shutdown_grace: 40s
`)
	r := runCmd(context.Background(), envOf(map[string]string{"ONCEHUB_API_KEY": "sk-abcdef123456"}), "config", "check", "--config", p)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, bad := range []string{"sk-abcdef123456", "hunter2"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("output shows %q:\n%s", bad, r.stdout)
		}
	}
	for _, want := range []string{"api_key: '********'", "page_size: 50", "shutdown_grace: 40s", "https://ops:xxxxx@push.example.com", "listen: 127.0.0.1:9464", "batch_size: 5000"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	printed := writeFile(t, "printed.yaml", r.stdout)
	again, err := loadConfig(printed, envOf(nil), forSync)
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v", err)
	}
	if again.Source.PageSize != 50 || again.Sync.ShutdownGrace != 40*time.Second || again.Schedule != "*/15 * * * *" {
		t.Errorf("reloaded %+v", again)
	}
}

// TestConfigCheck_ReportsEveryProblem: exit 2 and one line per problem,
// including the production keys.
func TestConfigCheck_ReportsEveryProblem(t *testing.T) {
	p := writeFile(t, "c.yaml", `schedule: "every quarter hour"
source:
  page_size: 0
sync:
  shutdown_grace: 0s
metrics:
  listen: "9464"
  textfile: /tmp/convsync.txt
  pushgateway: ftp://push
  job: ""
`)
	r := runCmd(context.Background(), envOf(nil), "config", "check", "--config", p)
	if r.code != exitConfig || r.stdout != "" {
		t.Errorf("exit %d, stdout %q; want %d and nothing printed", r.code, r.stdout, exitConfig)
	}
	for _, want := range []string{"schedule (line 1): ", "source.page_size (line 3)", "source.api_key", "source.start", "sync.shutdown_grace (line 5): must be positive",
		"metrics.listen (line 7): must be HOST:PORT", "metrics.textfile (line 8): must end in .prom", "metrics.pushgateway (line 9): must be an http(s) URL", "metrics.job (line 10): required"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := runCmd(context.Background(), envOf(nil), "config", "--config", p); r.code != exitConfig || !strings.Contains(r.stderr, "config check") {
		t.Errorf("config without check: exit %d %s", r.code, r.stderr)
	}
}

// TestConfig_UnreadableIsConfigError: a missing file or broken YAML is exit
// 2 like any invalid configuration.
func TestConfig_UnreadableIsConfigError(t *testing.T) {
	for _, path := range []string{"/nonexistent/convsync.yaml", writeFile(t, "c.yaml", "source: [unclosed\n")} {
		_, err := loadConfig(path, envOf(nil), forSync)
		var ce *ConfigError
		if !errors.As(err, &ce) || exitCode(err) != exitConfig {
			t.Errorf("%s: %v, want a *ConfigError", path, err)
		}
	}
}

// TestConfigCheck_KeyFileOutputLoadsBack: with the key from a file, the
// printed configuration names the file, not a masked key beside it, so it
// loads back as it is.
func TestConfigCheck_KeyFileOutputLoadsBack(t *testing.T) {
	key := writeFile(t, "key", "sk-from-file\n")
	p := writeFile(t, "c.yaml", "source:\n  api_key_file: "+key+"\n  start: 2025-01-01T00:00:00Z\n")
	r := runCmd(context.Background(), envOf(nil), "config", "check", "--config", p)
	if r.code != exitOK || strings.Contains(r.stdout, "sk-from-file") {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	again, err := loadConfig(writeFile(t, "printed.yaml", r.stdout), envOf(nil), forSync)
	if err != nil || again.Source.APIKey != "sk-from-file" {
		t.Errorf("the printed configuration loads as key %q, %v", string(again.Source.APIKey), err)
	}
}

// TestConfigCheck_Offline: --offline checks the file alone, as for a
// Kubernetes ConfigMap away from its pod (its key file and volume missing
// here), but still every rule of the file itself.
func TestConfigCheck_Offline(t *testing.T) {
	cm := "source:\n  api_key_file: /var/run/secrets/oncehub/api-key\n  start: 2025-01-01T00:00:00Z\nwarehouse:\n  path: /nonexistent-volume/data/convsync.duckdb\n"
	p := writeFile(t, "c.yaml", cm)
	if r := runCmd(context.Background(), envOf(nil), "config", "check", "--config", p); r.code != exitConfig || !strings.Contains(r.stderr, "source.api_key_file") {
		t.Errorf("without --offline: exit %d, want %d naming the key file:\n%s", r.code, exitConfig, r.stderr)
	}
	if r := runCmd(context.Background(), envOf(nil), "config", "check", "--offline", "--config", p); r.code != exitOK {
		t.Errorf("--offline: exit %d:\n%s", r.code, r.stderr)
	}
	bad := writeFile(t, "bad.yaml", cm+"  format: csv\n")
	if r := runCmd(context.Background(), envOf(nil), "config", "check", "--offline", "--config", bad); r.code != exitConfig || !strings.Contains(r.stderr, "warehouse.format") {
		t.Errorf("--offline with a bad format: exit %d:\n%s", r.code, r.stderr)
	}
	both := writeFile(t, "both.yaml", strings.Replace(cm, "  start:", "  api_key: sk-inline\n  start:", 1))
	if r := runCmd(context.Background(), envOf(nil), "config", "check", "--offline", "--config", both); r.code != exitConfig || !strings.Contains(r.stderr, "not both") {
		t.Errorf("--offline with api_key and api_key_file: exit %d:\n%s", r.code, r.stderr)
	}
	// The source's rules too, all but the key's presence.
	badSource := writeFile(t, "bad-source.yaml", strings.Replace(cm, "  start:", "  page_size: 500\n  start:", 1))
	if r := runCmd(context.Background(), envOf(nil), "config", "check", "--offline", "--config", badSource); r.code != exitConfig || !strings.Contains(r.stderr, "source.page_size") {
		t.Errorf("--offline with a bad page size: exit %d:\n%s", r.code, r.stderr)
	}
}
