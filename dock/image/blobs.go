package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
	"github.com/minirunc/minirunc/dock/progress"
)

// layerOpener opens layer i of an image for putLayer, counting its bytes
// for the progress display: the blob as it comes (a registry's or an OCI
// layout's, gzip, zstd or plain), decompressed here, or the plain tar of
// a `docker save` archive.
func layerOpener(l v1.Layer, i int, id string, p Progress, src source) func() (io.ReadCloser, error) {
	if !src.blobs {
		return func() (io.ReadCloser, error) {
			rc, err := l.Uncompressed()
			if err != nil {
				return nil, err
			}
			var total int64
			if i < len(src.sizes) {
				total = src.sizes[i]
			}
			return readCloser{&progress.Reader{R: rc, D: p, ID: id, Action: "Loading layer", Total: total}, rc}, nil
		}
	}
	action := "Downloading"
	if src.verb != "Pull" {
		action = "Loading layer"
	}
	return func() (io.ReadCloser, error) {
		total, _ := l.Size()
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		counted := &progress.Reader{R: rc, D: p, ID: id, Action: action, Total: total}
		dec, err := decompress(counted)
		if err != nil {
			rc.Close()
			return nil, err
		}
		return &blobReader{dec: dec, blob: counted, c: rc}, nil
	}
}

// blobReader reads a layer's tar out of its blob; at the tar's end it
// reads the blob to its end too, where the blob's digest is checked.
type blobReader struct {
	dec  io.Reader
	blob io.Reader
	c    io.Closer
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.dec.Read(p)
	if err == io.EOF {
		if _, derr := io.Copy(io.Discard, b.blob); derr != nil {
			return n, derr
		}
	}
	return n, err
}

func (b *blobReader) Close() error {
	if c, ok := b.dec.(io.Closer); ok {
		c.Close()
	}
	return b.c.Close()
}

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// decompress reads a gzip, zstd or plain tar stream as a plain one.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return gzip.NewReader(br)
	case bytes.Equal(magic, zstdMagic):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return br, nil
}
