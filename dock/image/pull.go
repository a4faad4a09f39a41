package image

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PullOptions are pull's registry options.
type PullOptions struct {
	Insecure           bool // plain http (loopback registries use it anyway)
	Username, Password string
}

// Pull fetches ref (an OCI or Docker schema2 manifest, or an index
// resolved to linux/amd64) and stores it tagged as ref. Call under Lock.
func (s *Store) Pull(ref string, o PullOptions, progress Progress) (string, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return "", fmt.Errorf("invalid reference format: %q", ref)
	}
	ropts := []remote.Option{remote.WithPlatform(Platform)}
	if o.Username != "" {
		ropts = append(ropts, remote.WithAuth(&authn.Basic{Username: o.Username, Password: o.Password}))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	img, err := remote.Image(r, ropts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusUnauthorized {
		return "", fmt.Errorf("pull %s: unauthorized: wrong or missing credentials", ref)
	}
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	var tags []string
	if t, ok := r.(name.Tag); ok {
		if _, full, err := NormalizeRef(familiar(t.String())); err == nil {
			tags = append(tags, full)
		}
	}
	progress.Line(fmt.Sprintf("%s: Pulling from %s", pulledAs(r), r.Context().RepositoryStr()))
	return s.storeImage(img, tags, progress, source{verb: "Pull", blobs: true})
}

// pulledAs is the tag or digest of a reference, as Docker's "Pulling
// from" line shows it.
func pulledAs(r name.Reference) string {
	if t, ok := r.(name.Tag); ok {
		return t.TagStr()
	}
	return r.Identifier()
}
