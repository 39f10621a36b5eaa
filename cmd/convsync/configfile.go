package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// loadConfig reads the YAML file at path (none: defaults only), expands
// ${VAR} from getenv, resolves the API key (resolveAPIKey, for a sync only)
// and validates the result for use u (see use). Every
// problem is reported, each with its key, and with its line in the file if
// it is in the value written there; a bad value leaves the key's default.
func loadConfig(path string, getenv func(string) string, u use) (Config, error) {
	cfg := defaultConfig()
	var p problems
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, configError("read config: %v", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return cfg, configError("config %s: %v", path, err)
		}
		expandEnv(&doc, "", getenv, &p)
		if len(doc.Content) > 0 {
			decodeMapping(doc.Content[0], reflect.ValueOf(&cfg).Elem(), "", &p)
			if cfg.LowMemory {
				// Its defaults, then the file again (its problems are
				// already listed): keys it sets win.
				cfg = lowMemoryConfig(defaultConfig(), cfg.Warehouse.Format)
				decodeMapping(doc.Content[0], reflect.ValueOf(&cfg).Elem(), "", &problems{})
			}
		}
	}
	if s := cfg.Source; u >= forFile && s.APIKey != "" && s.APIKeyFile != "" {
		p.add("source.api_key_file", p.lines["source.api_key_file"], "set source.api_key or source.api_key_file, not both")
	}
	if u >= forAPI {
		resolveAPIKey(&cfg.Source, getenv, &p)
	}
	for _, v := range cfg.problems(u) {
		key, msg, _ := strings.Cut(v, ": ")
		if !p.keys[key] { // else the default of a value already reported
			p.add(key, p.lines[key], "%s", msg)
		}
	}
	if len(p.list) == 0 {
		return cfg, nil
	}
	return cfg, &ConfigError{File: path, Problems: p.list}
}

// problems collects what is wrong with a configuration file, and the keys
// it names, so validation does not report a default again; lines are the
// lines of the keys the file sets, for validation's problems.
type problems struct {
	list  []string
	keys  map[string]bool
	lines map[string]int
}

// add records a problem of key ("": the file) at line (0: unknown).
func (p *problems) add(key string, line int, format string, args ...any) {
	if p.keys == nil {
		p.keys = map[string]bool{}
	}
	p.keys[key] = true
	where := key
	switch {
	case line > 0 && key == "":
		where = fmt.Sprintf("line %d", line)
	case line > 0:
		where = fmt.Sprintf("%s (line %d)", key, line)
	}
	p.list = append(p.list, where+": "+fmt.Sprintf(format, args...))
}

// resolveAPIKey fills s.APIKey: an api_key or api_key_file set in the file
// wins (both is a problem loadConfig reports), else ONCEHUB_API_KEY.
func resolveAPIKey(s *SourceConfig, getenv func(string) string, p *problems) {
	switch {
	case s.APIKeyFile == "":
		if s.APIKey == "" {
			s.APIKey = Secret(getenv("ONCEHUB_API_KEY"))
		}
	case s.APIKey != "": // both set
	default:
		b, err := os.ReadFile(s.APIKeyFile)
		if err != nil {
			p.add("source.api_key_file", p.lines["source.api_key_file"], "%v", err)
			return
		}
		if s.APIKey = Secret(strings.TrimSpace(string(b))); s.APIKey == "" {
			p.add("source.api_key_file", p.lines["source.api_key_file"], "%s is empty", s.APIKeyFile)
		}
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} in every scalar value under n, the node of key
// (comments are left alone), and reports each variable that is not set.
func expandEnv(n *yaml.Node, key string, getenv func(string) string, p *problems) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !envRef.MatchString(n.Value) {
			return
		}
		if n.Style == 0 {
			n.Tag = "" // a plain scalar is typed by its expanded value: page_size: ${N}
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := envRef.FindStringSubmatch(m)[1]
			v := getenv(name)
			if v == "" {
				p.add(key, n.Line, "environment variable %s is not set", name)
			}
			return v
		})
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(n.Content[i+1], joinKey(key, n.Content[i].Value), getenv, p)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for i, c := range n.Content {
			k := key
			if n.Kind == yaml.SequenceNode {
				k = fmt.Sprintf("%s[%d]", key, i)
			}
			expandEnv(c, k, getenv, p)
		}
	}
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// decodeMapping decodes the mapping n, the value of key, into the struct v
// key by key, as yaml.v3 would with KnownFields, but reporting every unknown
// or repeated key and every bad value with its key path and its line in the
// file (a bad value leaves v's field as it was). Merge keys (<<: *anchor)
// apply before the mapping's own keys, which win.
func decodeMapping(n *yaml.Node, v reflect.Value, key string, p *problems) {
	n = dealias(n)
	if n.ShortTag() == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.add(key, n.Line, "must be a mapping of keys, got %s", describe(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.ShortTag() == "!!merge" {
			for _, m := range merged(n.Content[i+1]) {
				decodeMapping(m, v, key, p)
			}
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			continue
		}
		path := joinKey(key, k.Value)
		if line, ok := seen[k.Value]; ok {
			p.add(path, k.Line, "set twice (first on line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		if p.lines == nil {
			p.lines = map[string]int{}
		}
		p.lines[path] = k.Line
		f, ok := field(v, k.Value)
		if !ok {
			p.add(path, k.Line, "unknown key%s", suggest(v.Type(), k.Value))
			continue
		}
		decodeValue(val, f, path, p)
	}
}

// decodeValue decodes n, the value of key, into v.
func decodeValue(n *yaml.Node, v reflect.Value, key string, p *problems) {
	n = dealias(n)
	switch {
	case v.Type() == durationType:
		decodeDuration(n, v, key, p)
	case v.Type() == timeType:
		decodeTime(n, v, key, p)
	case v.Kind() == reflect.Struct:
		decodeMapping(n, v, key, p)
	default:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			p.add(key, n.Line, "must be %s, got %s", want(v.Type()), describe(n))
		}
	}
}

// decodeDuration reads a Go duration (30s, 10m, 720h); a bare 0 is one too,
// another bare number lacks its unit.
func decodeDuration(n *yaml.Node, v reflect.Value, key string, p *problems) {
	if n.ShortTag() == "!!null" {
		return
	}
	d, err := time.ParseDuration(n.Value) // "0" included
	switch {
	case n.Kind != yaml.ScalarNode:
		p.add(key, n.Line, "must be a duration such as 30s, 10m or 720h, got %s", describe(n))
	case err != nil && isNumber(n.Value):
		p.add(key, n.Line, "needs a unit, such as %[1]ss, %[1]sm or %[1]sh (only 0 goes without), got %[1]s", n.Value)
	case err != nil:
		p.add(key, n.Line, "must be a duration such as 30s, 10m or 720h, got %s", describe(n))
	default:
		v.SetInt(int64(d))
	}
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// decodeTime reads an RFC 3339 time with its zone, or a date meaning its
// midnight UTC (as backfill's flags).
func decodeTime(n *yaml.Node, v reflect.Value, key string, p *problems) {
	if n.ShortTag() == "!!null" {
		return
	}
	if n.Kind == yaml.ScalarNode {
		if t, err := time.Parse(time.RFC3339Nano, n.Value); err == nil {
			v.Set(reflect.ValueOf(t))
			return
		}
		if t, err := time.Parse(time.DateOnly, n.Value); err == nil {
			v.Set(reflect.ValueOf(t))
			return
		}
	}
	p.add(key, n.Line, "must be an RFC 3339 time with a zone, such as 2024-01-01T00:00:00Z or 2024-01-01T00:00:00+01:00 (or a date, 2024-01-01, for its midnight UTC), got %s", describe(n))
}

// dealias is the node an alias (*anchor) stands for.
func dealias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// merged is the mappings a merge key's value names: one, or a list.
func merged(n *yaml.Node) []*yaml.Node {
	if n = dealias(n); n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

// field is the field of struct v whose yaml tag is name.
func field(v reflect.Value, name string) (reflect.Value, bool) {
	for i := range v.NumField() {
		if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// suggest names the key of t that name may have meant (batchsize:
// batch_size), if one is close enough.
func suggest(t reflect.Type, name string) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); norm(tag) == norm(name) {
			return fmt.Sprintf(" (did you mean %s?)", tag)
		}
	}
	return ""
}

// want says what a value of type t is, for an error.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list, such as [a, b]"
	default:
		return "a single value"
	}
}

// describe says what n is, for an error.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}
