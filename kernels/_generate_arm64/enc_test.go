package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var wordLine = regexp.MustCompile(`^\s*WORD \$0x([0-9a-f]{8}) // (.+)$`)

// TestWordsMatchLLVM assembles the instruction after every WORD of the
// arm64 assembly files with llvm-mc and requires the same encoding. It
// needs llvm-mc (Debian: llvm), and is skipped without it.
func TestWordsMatchLLVM(t *testing.T) {
	mc, err := exec.LookPath("llvm-mc")
	if err != nil {
		t.Skip("llvm-mc not installed")
	}
	words := map[string]uint32{} // instruction -> word
	for _, f := range []string{"../qdot_arm64.s", "../float_arm64.s"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			m := wordLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			w, _ := strconv.ParseUint(m[1], 16, 32)
			if old, ok := words[m[2]]; ok && old != uint32(w) {
				t.Fatalf("%s: %s encoded as %08x and %08x", f, m[2], old, w)
			}
			words[m[2]] = uint32(w)
		}
	}
	if len(words) == 0 {
		t.Fatal("no WORD lines found")
	}
	var src strings.Builder
	var order []string
	for ins := range words {
		order = append(order, ins)
		src.WriteString(ins + "\n")
	}
	cmd := exec.Command(mc, "-triple=aarch64", "-mattr=+dotprod", "-show-encoding")
	cmd.Stdin = strings.NewReader(src.String())
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("llvm-mc: %v\n%s", err, outb)
	}
	enc := regexp.MustCompile(`encoding: \[0x([0-9a-f]{2}),0x([0-9a-f]{2}),0x([0-9a-f]{2}),0x([0-9a-f]{2})\]`)
	var got []uint32
	for _, l := range strings.Split(string(outb), "\n") {
		if m := enc.FindStringSubmatch(l); m != nil {
			var w uint32
			for i := 4; i >= 1; i-- {
				b, _ := strconv.ParseUint(m[i], 16, 8)
				w = w<<8 | uint32(b)
			}
			got = append(got, w)
		}
	}
	if len(got) != len(order) {
		t.Fatalf("llvm-mc gave %d encodings for %d instructions", len(got), len(order))
	}
	for i, ins := range order {
		if got[i] != words[ins] {
			t.Errorf("%s: WORD %08x, llvm-mc %08x", ins, words[ins], got[i])
		}
	}
	t.Logf("%d distinct instructions checked", len(order))
}
