package main

import (
	"context"
	"fmt"

	"go.yaml.in/yaml/v3"
)

func runConfig(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "config check")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	offline := fs.Bool("offline", false, "check the file alone: not that the API key can be read nor that the warehouse path can be written here (to check a Kubernetes ConfigMap away from its pod)")
	switch {
	case len(args) > 0 && args[0] == "check":
		args = args[1:]
	case len(args) > 0 && isHelp(args[0]): // the flags' usage, exit 0
	default:
		return usageError{"usage: convsync config check [--config FILE] [--offline]"}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := configPath(e, *cfgFlag)
	u := forSync
	if *offline {
		u = forFile
	}
	cfg, err := loadConfig(path, e.getenv, u)
	if err != nil {
		return err
	}
	if cfg.Source.APIKeyFile != "" {
		// The key file's, not to print beside it: the output loads back.
		cfg.Source.APIKey = ""
	}
	out, err := yaml.Marshal(cfg) // Secret and URL mask themselves
	if err != nil {
		return fmt.Errorf("print configuration: %w", err)
	}
	if path == "" {
		path = "none: defaults and environment"
	}
	fmt.Fprintf(e.stdout, "# convsync: configuration valid (file: %s). Effective values, secrets masked:\n%s", path, out)
	return nil
}
