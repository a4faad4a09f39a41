package specconv

import (
	"math/rand"
	"regexp"
	"testing"
)

// TestValidIDCharsMatchesPattern: the hand-written check accepts exactly
// what idPattern does.
func TestValidIDCharsMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(idPattern)
	alphabet := []byte("aZ09_.+-/ :\x00é")
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		b := make([]byte, r.Intn(6))
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		if got, want := validIDChars(string(b)), re.MatchString(string(b)); got != want {
			t.Fatalf("validIDChars(%q) = %v, the pattern says %v", b, got, want)
		}
	}
}
