package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// manifestFormat names the dataset's layout; a reader refuses any other.
// Version 2 partitions contacts (version 1 kept them whole).
const manifestFormat = "convsync-parquet/2"

// manifest is _convsync/manifest.json: the list of every current data file
// of the dataset and the cursor state. It is the dataset's only commit point:
// a file not listed is not part of the dataset.
//
// A file listed under a staged name (".<name>.tmp", see stagedName) is one
// being published: the manifest was written before the file was renamed into
// place. Once its staged name is gone it is read under its final name
// (resolve); opening the dataset finishes the renames.
type manifest struct {
	Format      string                `json:"format"`
	Seq         int64                 `json:"seq"`       // bumped by every publish; in new file names
	Partition   string                `json:"partition"` // "month", "day" or "none"
	CommittedAt time.Time             `json:"committed_at"`
	State       State                 `json:"state"`
	Tables      map[string][]dataFile `json:"tables"`
}

// dataFile is one Parquet file of a table.
type dataFile struct {
	Path      string `json:"path"`                // relative to the dataset root, slash-separated
	Partition string `json:"partition,omitempty"` // the partition value, "" when unpartitioned
	Rows      int64  `json:"rows"`
	Bytes     int64  `json:"bytes"`
}

// files returns the table's files in partition part.
func (m *manifest) files(table, part string) []dataFile {
	var out []dataFile
	for _, f := range m.Tables[table] {
		if f.Partition == part {
			out = append(out, f)
		}
	}
	return out
}

// clone returns a copy of m whose file lists can be changed independently.
func (m *manifest) clone() *manifest {
	c := *m
	c.Tables = make(map[string][]dataFile, len(m.Tables))
	for t, fs := range m.Tables {
		c.Tables[t] = slices.Clone(fs)
	}
	return &c
}

// finalized returns a copy of m listing every staged file under its final name.
func (m *manifest) finalized() *manifest {
	c := m.clone()
	for _, fs := range c.Tables {
		for i := range fs {
			fs[i].Path = finalName(fs[i].Path)
		}
	}
	return c
}

// staged reports whether m lists a file under its staged name: the manifest
// of a publish whose files are not all renamed into place yet.
func (m *manifest) staged() bool {
	for _, fs := range m.Tables {
		for _, f := range fs {
			if finalName(f.Path) != f.Path {
				return true
			}
		}
	}
	return false
}

// listed is the set of final paths m lists, relative to the root.
func (m *manifest) listed() map[string]bool {
	set := map[string]bool{}
	for _, fs := range m.Tables {
		for _, f := range fs {
			set[finalName(f.Path)] = true
		}
	}
	return set
}

const (
	filePrefix   = "part-"
	stagedPrefix = "." + filePrefix
	stagedSuffix = ".tmp"
)

// stagedName is where a data file is written before it is published: the
// same folder, a name that no reader's glob matches (DuckDB's *.parquet,
// and Hive, Spark, Trino and Athena skip names starting with "." or "_").
func stagedName(rel string) string {
	dir, base := path.Split(rel)
	return dir + "." + base + stagedSuffix
}

// finalName is the inverse of stagedName; other names are returned as is.
func finalName(rel string) string {
	dir, base := path.Split(rel)
	if strings.HasPrefix(base, stagedPrefix) && strings.HasSuffix(base, stagedSuffix) {
		return dir + strings.TrimSuffix(base[1:], stagedSuffix)
	}
	return rel
}

func manifestPath(root string) string { return filepath.Join(root, "_convsync", "manifest.json") }

// readManifest reads the dataset's manifest; a dataset without one is empty.
func readManifest(root string) (*manifest, error) {
	b, err := os.ReadFile(manifestPath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest{Format: manifestFormat, Tables: map[string][]dataFile{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", manifestPath(root), err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("manifest %s: format %q, want %q", manifestPath(root), m.Format, manifestFormat)
	}
	if m.Tables == nil {
		m.Tables = map[string][]dataFile{}
	}
	return &m, nil
}

// writeManifest replaces the manifest atomically: temp file, fsync, rename,
// fsync of the folder. hook is called once the temp file is durable.
func writeManifest(root string, m *manifest, hook func(string) error) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	dst := manifestPath(root)
	tmp := dst + stagedSuffix
	if err := writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := hook("manifest-temp"); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("publish manifest: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("publish manifest: %w", err)
	}
	return nil
}

func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	return errors.Join(werr, serr, f.Close())
}

// syncFile makes a written file's content durable.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// syncDir makes the entries of folder dir (creations, renames) durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// resolve returns the path a listed file can be read at now: a staged file
// whose staged name is gone has been renamed into place.
func resolve(root, rel string) string {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if fin := finalName(rel); fin != rel {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(root, filepath.FromSlash(fin))
		}
	}
	return p
}

// recoverDataset makes the folder equal to its manifest after a crash: it
// removes the manifest's temp file, finishes a publish whose manifest was
// written (renaming its staged files into place, then rewriting the
// manifest with their final names), and removes every data file or staged
// file the manifest does not list, and then empty partition folders. Only
// names this package writes (part-*.parquet, .part-*.tmp) are removed. A
// folder with published data files but no manifest is an error, before
// anything is removed (see dataWithoutManifest).
func recoverDataset(root string, tables []string) (*manifest, error) {
	if err := os.Remove(manifestPath(root) + stagedSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := dataWithoutManifest(root, tables); err != nil {
		return nil, err
	}
	m, err := readManifest(root)
	if err != nil {
		return nil, err
	}
	moved, err := moveStaged(root, m)
	if err != nil {
		return nil, err
	}
	if moved {
		m = m.finalized()
		if err := writeManifest(root, m, func(string) error { return nil }); err != nil {
			return nil, err
		}
	}
	listed := m.listed()
	for _, t := range tables {
		if err := sweep(root, t, listed); err != nil {
			return nil, fmt.Errorf("remove unlisted files of %s: %w", t, err)
		}
	}
	return m, nil
}

// dataWithoutManifest refuses a dataset that has published data files but
// no manifest. A publish renames files to their final names only after its
// manifest is in place, so such files were published by a manifest that is
// now gone (deleted, or left out of a restore). Read as an empty dataset,
// recovery would remove every one of them as unlisted, and with them the
// rows the API no longer returns (deleted conversations) and the ledger.
func dataWithoutManifest(root string, tables []string) error {
	if _, err := os.Stat(manifestPath(root)); !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or unreadable: readManifest says which
	}
	for _, t := range tables {
		found, err := firstDataFile(filepath.Join(root, t))
		if err != nil {
			return err
		}
		if found != "" {
			return fmt.Errorf("%s holds data file %s but there is no manifest %s, which lists the dataset's files and its cursor: restore the manifest, or move the folder away and sync into a new one (nothing was changed)",
				root, found, manifestPath(root))
		}
	}
	return nil
}

// firstDataFile is the path of a published data file (part-*.parquet)
// under dir, "" if there is none.
func firstDataFile(dir string) (string, error) {
	var found string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), filePrefix) && strings.HasSuffix(d.Name(), ".parquet") {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	return found, err
}

// moveStaged renames every staged file m lists into place; it reports
// whether m listed any.
func moveStaged(root string, m *manifest) (bool, error) {
	any := false
	dirs := map[string]bool{}
	for _, fs := range m.Tables {
		for _, f := range fs {
			fin := finalName(f.Path)
			if fin == f.Path {
				continue
			}
			any = true
			src := filepath.Join(root, filepath.FromSlash(f.Path))
			dst := filepath.Join(root, filepath.FromSlash(fin))
			if err := os.Rename(src, dst); err != nil {
				if _, serr := os.Stat(dst); serr != nil {
					return any, fmt.Errorf("publish %s: %w", fin, err)
				}
			}
			dirs[filepath.Dir(dst)] = true
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return any, err
		}
	}
	return any, nil
}

// sweep removes files of table's folder that the dataset does not list.
func sweep(root, table string, listed map[string]bool) error {
	top := filepath.Join(root, table)
	var dirs []string
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == top {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != top {
				dirs = append(dirs, p)
			}
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := d.Name()
		ours := (strings.HasPrefix(name, filePrefix) && strings.HasSuffix(name, ".parquet")) ||
			(strings.HasPrefix(name, stagedPrefix) && strings.HasSuffix(name, stagedSuffix))
		if ours && !listed[filepath.ToSlash(rel)] {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Deepest first; a folder that still holds anything stays.
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i])
	}
	return nil
}
