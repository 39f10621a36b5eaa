package load

import (
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdCodec is the zstd of the Parquet files written from Go: Arrow Go's
// own, with encoders of a 1 MB window instead of zstd's default 8 MB. The
// writer compresses each page (256 kB, a few MB at most) on its own, so a
// larger window finds nothing more, and each encoder kept 16 MB of history:
// two files written at once held 32 MB, which the garbage collector's
// headroom doubled (a 200k first sync peaked at 171 MiB of Go memory, 46 MiB
// through DuckDB's COPY). It replaces Arrow Go's for the whole process,
// which uses Arrow Go's Parquet writer nowhere else.
type zstdCodec struct{}

func init() { compress.RegisterCodec(compress.Codecs.Zstd, zstdCodec{}) }

// zstdEncoders are idle encoders by level.
var zstdEncoders sync.Map // zstd.EncoderLevel → *sync.Pool of *zstd.Encoder

func zstdEncoder(level int) (*zstd.Encoder, *sync.Pool) {
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	p, _ := zstdEncoders.LoadOrStore(l, &sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true))
		if err != nil {
			panic(err) // only for invalid options, and these are fixed
		}
		return e
	}})
	pool := p.(*sync.Pool)
	return pool.Get().(*zstd.Encoder), pool
}

var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil)
	if err != nil {
		panic(err)
	}
	return d
})

func (zstdCodec) Encode(dst, src []byte) []byte {
	return zstdCodec{}.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

func (zstdCodec) EncodeLevel(dst, src []byte, level int) []byte {
	e, pool := zstdEncoder(level)
	defer pool.Put(e)
	return e.EncodeAll(src, dst[:0])
}

func (zstdCodec) Decode(dst, src []byte) []byte {
	out, err := zstdCodec{}.DecodeWithError(dst, src)
	if err != nil {
		panic(err) // compress.Decode turns it into an error
	}
	return out
}

func (zstdCodec) DecodeWithError(dst, src []byte) ([]byte, error) {
	return zstdDecoder().DecodeAll(src, dst[:0])
}

// CompressBound is ZSTD_COMPRESSBOUND of zstd.h, as Arrow Go's.
func (zstdCodec) CompressBound(n int64) int64 {
	extra := ((128 << 10) - n) >> 11
	if n >= 128<<10 {
		extra = 0
	}
	return n + n>>8 + extra
}
