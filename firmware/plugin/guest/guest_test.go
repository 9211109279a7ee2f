package guest

import (
	"errors"
	"testing"
)

func TestCall(t *testing.T) {
	exporter = nil
	if got := string(Call([]byte("{}"))); got != "!plugin did not call guest.Register" {
		t.Errorf("unregistered: %q", got)
	}
	Register(func(r []byte) (string, []byte, error) { return "txt", append([]byte("got "), r...), nil })
	if got := string(Call([]byte("{}"))); got != "txt\ngot {}" {
		t.Errorf("output: %q", got)
	}
	Register(func([]byte) (string, []byte, error) { return "", nil, errors.New("no\nstudy\t here ") })
	if got := string(Call(nil)); got != "!no study here" {
		t.Errorf("refusal: %q", got)
	}
}
