package main

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// k8s is the part of the Kubernetes manifests the checks read.
type k8s struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		JobTemplate       struct {
			Spec struct {
				Template struct {
					Spec podSpec `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type podSpec struct {
	RestartPolicy                 string `yaml:"restartPolicy"`
	TerminationGracePeriodSeconds *int   `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
	Containers []struct {
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []struct {
			Name      string `yaml:"name"`
			ValueFrom struct {
				SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name                  string `yaml:"name"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
		ConfigMap *struct{ Name string } `yaml:"configMap"`
		Secret    *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

func readManifest(t *testing.T, name string) k8s {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	var m k8s
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// TestDeploy_CronJob checks what matters in the Kubernetes manifests: one
// run at a time, `convsync sync` with the ConfigMap's config (valid), the
// warehouse on the PVC, the key from the Secret, a grace period above
// convsync's own shutdown grace, resources set, a pod that is not restarted
// in place, and not root.
func TestDeploy_CronJob(t *testing.T) {
	cj, cm, pvc := readManifest(t, "cronjob.yaml"), readManifest(t, "configmap.yaml"), readManifest(t, "pvc.yaml")
	if cj.Kind != "CronJob" || cm.Kind != "ConfigMap" || pvc.Kind != "PersistentVolumeClaim" {
		t.Fatalf("kinds %s, %s, %s", cj.Kind, cm.Kind, pvc.Kind)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if pod.RestartPolicy != "Never" && pod.RestartPolicy != "OnFailure" {
		t.Errorf("restartPolicy %q", pod.RestartPolicy)
	}
	if !pod.SecurityContext.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) < 4 || path.Base(argv[0]) != "convsync" || argv[1] != "sync" || argv[2] != "--config" {
		t.Fatalf("command %q, want convsync sync --config FILE", argv)
	}
	mounts := map[string]string{} // mount path -> volume name
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	volumeAt := func(file string) string { return mounts[path.Dir(file)] }
	vols := map[string]int{}
	for i, v := range pod.Volumes {
		vols[v.Name] = i
	}

	// The config file is the ConfigMap's, and valid.
	cfgVol, ok := vols[volumeAt(argv[3])]
	if !ok || pod.Volumes[cfgVol].ConfigMap == nil || pod.Volumes[cfgVol].ConfigMap.Name != cm.Metadata.Name {
		t.Fatalf("%s is not mounted from the ConfigMap %s", argv[3], cm.Metadata.Name)
	}
	text, ok := cm.Data[path.Base(argv[3])]
	if !ok {
		t.Fatalf("the ConfigMap has no %s", path.Base(argv[3]))
	}
	cfg := loadInPod(t, text, mounts)

	// The warehouse is on the PVC.
	whVol, ok := vols[volumeAt(cfg.Warehouse.Path)]
	if cfg.Warehouse.Format == "parquet" {
		whVol, ok = vols[mounts[path.Dir(path.Clean(cfg.Warehouse.Path))]]
	}
	if !ok || pod.Volumes[whVol].PersistentVolumeClaim == nil || pod.Volumes[whVol].PersistentVolumeClaim.ClaimName != pvc.Metadata.Name {
		t.Errorf("warehouse.path %s is not on the PVC %s", cfg.Warehouse.Path, pvc.Metadata.Name)
	}

	// The key comes from a Secret: an env var or a mounted file.
	fromSecret := false
	for _, e := range c.Env {
		if e.Name == "ONCEHUB_API_KEY" && e.ValueFrom.SecretKeyRef != nil {
			fromSecret = true
		}
	}
	if i, ok := vols[volumeAt(cfg.Source.APIKeyFile)]; ok && cfg.Source.APIKeyFile != "" && pod.Volumes[i].Secret != nil {
		fromSecret = true
	}
	if !fromSecret || strings.Contains(text, "api_key:") {
		t.Error("the API key does not come from a Secret")
	}

	// Kubernetes waits longer than convsync does after SIGTERM.
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= cfg.Sync.ShutdownGrace {
		t.Errorf("terminationGracePeriodSeconds %v, want above sync.shutdown_grace %s", g, cfg.Sync.ShutdownGrace)
	}
	for _, k := range []string{"cpu", "memory"} {
		if c.Resources.Requests[k] == "" || c.Resources.Limits["memory"] == "" {
			t.Errorf("resources: requests %v, limits %v", c.Resources.Requests, c.Resources.Limits)
		}
	}
}

// TestDeploy_Dockerfile: multi-stage, cgo, a small runtime, not root.
func TestDeploy_Dockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	d := string(b)
	for _, want := range []string{"AS build", "CGO_ENABLED=1", "FROM gcr.io/distroless/cc-debian12", "USER 65532", "./cmd/convsync"} {
		if !strings.Contains(d, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if n := strings.Count(d, "\nFROM "); n != 2 {
		t.Errorf("%d stages, want 2", n)
	}
}

// loadInPod loads the configuration text as the pod would, where its
// volumes are mounted (mounts: mount path -> volume): each mount is a
// folder under a temporary root, a key file it names holds a key, and the
// paths of the result are the pod's again.
func loadInPod(t *testing.T, text string, mounts map[string]string) Config {
	t.Helper()
	root := t.TempDir()
	var pairs []string
	for m := range mounts {
		if err := os.MkdirAll(filepath.Join(root, m), 0o755); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, " "+m+"/", " "+filepath.Join(root, m)+"/")
	}
	local := strings.NewReplacer(pairs...).Replace(text)
	var file struct {
		Source struct {
			APIKeyFile string `yaml:"api_key_file"`
		} `yaml:"source"`
	}
	if err := yaml.Unmarshal([]byte(local), &file); err != nil {
		t.Fatal(err)
	}
	if f := file.Source.APIKeyFile; f != "" {
		if err := os.WriteFile(f, []byte("from the secret\n"), 0o600); err != nil {
			t.Fatalf("the key file is not on a mounted volume: %v", err)
		}
	}
	// The key file, if named, wins over the variable.
	cfg, err := loadConfig(writeFile(t, "convsync.yaml", local), envOf(map[string]string{"ONCEHUB_API_KEY": "from the secret"}), forSync)
	if err != nil {
		t.Fatalf("the ConfigMap's configuration: %v", err)
	}
	cfg.Warehouse.Path = strings.TrimPrefix(cfg.Warehouse.Path, root)
	cfg.Source.APIKeyFile = strings.TrimPrefix(cfg.Source.APIKeyFile, root)
	return cfg
}
