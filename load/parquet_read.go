package load

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrReadOnly is wrapped by the error of a Commit or Record on a warehouse
// opened by OpenParquetReader.
var ErrReadOnly = errors.New("warehouse is open read-only")

// OpenParquetReader opens the dataset in folder dir for reading only, for
// the sql and status commands: it takes no lock, so it works while a
// writer holds the dataset, and it writes nothing (no recovery: an
// interrupted publish is read as its manifest lists it). A folder without a
// manifest is an error.
//
// DB's views and State are the version the manifest held at the open; a
// later publish is not seen. The manifest is replaced atomically, so that
// version is whole, but a later publish removes the files it replaced: a
// query reading one of them after that fails with an error naming the
// file, and succeeds when run again on a new reader. Commit and Record
// return an error wrapping ErrReadOnly; Close closes only the DB.
func OpenParquetReader(ctx context.Context, dir string) (*Parquet, error) {
	p, err := openParquetReader(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("open parquet warehouse %s: %w", dir, err)
	}
	return p, nil
}

func openParquetReader(ctx context.Context, dir string) (_ *Parquet, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(manifestPath(abs)); errors.Is(err, fs.ErrNotExist) {
		// A sync refuses data files without their manifest: say that, not
		// to run one.
		if err := dataWithoutManifest(abs, parquetTables); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no manifest %s (run convsync sync first)", manifestPath(abs))
	}
	for attempt := 1; ; attempt++ {
		p := &Parquet{dir: abs, readOnly: true}
		if p.m, err = readManifest(abs); err != nil {
			return nil, err
		}
		err := p.openDB(ctx)
		if err == nil {
			return p, nil
		}
		err = errors.Join(err, p.Close())
		// The views open every table's files: a publish between reading the
		// manifest and opening them may have removed some (the run ledger
		// is rewritten by every commit). Then the manifest has moved on:
		// open its new version. A manifest listing staged names is a
		// publish caught between its commit point and its renames: a
		// staged file found at the open may have been renamed into place
		// before the views opened it, under the same version; open again,
		// and resolve finds it at its final name.
		if attempt == maxOpenAttempts || !(p.m.staged() || manifestMoved(abs, p.m.Seq)) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// maxOpenAttempts bounds how often a reader opens a dataset whose manifest
// moved on while it opened it.
const maxOpenAttempts = 10

// manifestMoved reports whether the manifest of the dataset at dir is no
// longer version seq.
func manifestMoved(dir string, seq int64) bool {
	m, err := readManifest(dir)
	return err == nil && m.Seq != seq
}

func (p *Parquet) readOnlyErr() error {
	return fmt.Errorf("parquet warehouse %s: %w", p.dir, ErrReadOnly)
}
