package load

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// TestZstdCodec checks that the Parquet writer's zstd is this package's,
// with a 1 MB window, and that what it encodes decodes back.
func TestZstdCodec(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := codec.(zstdCodec); !ok {
		t.Fatalf("the zstd codec is %T, not this package's", codec)
	}
	src := []byte(strings.Repeat(`{"id":"CVR-1","answers":[{"question":"What is your name?"}]}`, 1<<16)) // 4 MB
	for _, level := range []int{compress.DefaultCompressionLevel, 1} {
		enc := codec.EncodeLevel(nil, src, level)
		var h zstd.Header
		if err := h.Decode(enc); err != nil {
			t.Fatal(err)
		}
		window := h.WindowSize
		if h.SingleSegment { // the window is the whole input
			window = h.FrameContentSize
		}
		if window > 1<<20 {
			t.Errorf("level %d: window of %d bytes, want at most 1 MB", level, window)
		}
		if got := codec.Decode(nil, enc); !bytes.Equal(got, src) {
			t.Fatalf("level %d: decoded %d bytes, not the %d encoded", level, len(got), len(src))
		}
	}
	if n := codec.CompressBound(1000); n < 1000 {
		t.Errorf("CompressBound(1000) = %d", n)
	}
}
