// Command hostile is a test plugin that misbehaves on request: the report's
// "findings" field names what it does. It implements the ABI itself (not
// through package guest) so that it can also break the framing.
//
//	echo           a well-behaved plugin: "txt\n" and the findings
//	loop           spins forever
//	bomb           allocates until its memory runs out
//	grow N         allocates N MiB and says "grew"
//	escape ADDR    tries to read files, list directories, write a file,
//	               read the environment, dial ADDR and accept on a socket;
//	               its output says what each attempt got
//	panic          a Go panic
//	exit           os.Exit(3)
//	oob            returns a result outside its memory
//	oversize       returns a result that claims 4 GiB
//	noext          returns bytes with no extension line
//	badext         returns "../../x" as its extension
//	huge N         returns N bytes (a valid framing)
//	empty          returns nothing (0)
//	refuse         returns "!" and a reason with control characters
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

var held [][]byte

//go:wasmexport alloc
func alloc(size uint32) uint32 {
	buf := make([]byte, size+1)
	held = append(held, buf)
	return uint32(uintptr(unsafe.Pointer(&buf[0])))
}

func result(b []byte) uint64 {
	held = append(held, b)
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
}

var sink [][]byte

//go:wasmexport export
func export(ptr, size uint32) uint64 {
	in := unsafe.Slice((*byte)(unsafe.Add(nil, ptr)), size)
	var doc struct {
		Findings string `json:"findings"`
	}
	if err := json.Unmarshal(in, &doc); err != nil {
		return result([]byte("!" + err.Error()))
	}
	mode, arg, _ := strings.Cut(doc.Findings, " ")
	switch mode {
	case "echo":
		return result([]byte("txt\n" + doc.Findings))
	case "loop":
		n := 0
		for {
			n++
		}
	case "bomb":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case "grow":
		n, _ := strconv.Atoi(arg)
		for range n {
			sink = append(sink, make([]byte, 1<<20))
		}
		return result([]byte("txt\ngrew"))
	case "escape":
		return result([]byte("txt\n" + escape(arg)))
	case "panic":
		panic("boom")
	case "exit":
		os.Exit(3)
	case "oob":
		return 0xfff00000<<32 | 64
	case "oversize":
		return 16<<32 | 0xffffffff
	case "noext":
		return result([]byte{0, 1, 2, 0xff, 'g', 'a', 'r', 'b', 'a', 'g', 'e'})
	case "badext":
		return result([]byte("../../x\nowned"))
	case "huge":
		n, _ := strconv.Atoi(arg)
		b := make([]byte, 4+n)
		copy(b, "txt\n")
		for i := 4; i < len(b); i++ {
			b[i] = 'x'
		}
		return result(b)
	case "empty":
		return 0
	case "refuse":
		return result([]byte("!cannot\r\nfile\x00this\tone"))
	}
	return result([]byte("!unknown mode " + mode))
}

// escape tries every way out it knows and says what happened.
func escape(addr string) string {
	var b strings.Builder
	try := func(what string, f func() (string, error)) {
		got, err := f()
		if err != nil {
			fmt.Fprintf(&b, "%s: denied: %v\n", what, err)
		} else {
			fmt.Fprintf(&b, "%s: GOT %q\n", what, got)
		}
	}
	for _, path := range []string{"/etc/passwd", "secret.txt", "./secret.txt", "../secret.txt", "/proc/self/environ"} {
		try("read "+path, func() (string, error) {
			data, err := os.ReadFile(path)
			return string(data), err
		})
	}
	for _, path := range []string{"/", "."} {
		try("list "+path, func() (string, error) {
			ents, err := os.ReadDir(path)
			names := []string{}
			for _, e := range ents {
				names = append(names, e.Name())
			}
			return strings.Join(names, ","), err
		})
	}
	try("write pwned.txt", func() (string, error) {
		return "written", os.WriteFile("pwned.txt", []byte("pwned"), 0o644)
	})
	wd, err := os.Getwd()
	fmt.Fprintf(&b, "getwd: %q %v\n", wd, err)
	try("environ", func() (string, error) {
		env := os.Environ()
		if len(env) == 0 {
			return "", fmt.Errorf("empty")
		}
		return strings.Join(env, ","), nil
	})
	try("args", func() (string, error) {
		if len(os.Args) == 0 {
			return "", fmt.Errorf("empty")
		}
		return strings.Join(os.Args, ","), nil
	})
	try("dial "+addr, func() (string, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello from the plugin"))
		return "connected", err
	})
	// Go's net package on wasip1 listens on an in-process fake network,
	// which reaches nothing; WASI itself can only accept on sockets the
	// host preopened (fd 3 and up), and it preopened none.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		l.Close()
	}
	fmt.Fprintf(&b, "listen (in-process): %v\n", err)
	for fd := int32(0); fd < 8; fd++ {
		try(fmt.Sprintf("sock_accept fd %d", fd), func() (string, error) {
			var conn int32
			if errno := sockAccept(fd, 0, unsafe.Pointer(&conn)); errno != 0 {
				return "", fmt.Errorf("errno %d", errno)
			}
			return fmt.Sprintf("socket %d", conn), nil
		})
	}
	fmt.Fprintf(&b, "year: %d\n", time.Now().Year())
	return b.String()
}

//go:wasmimport wasi_snapshot_preview1 sock_accept
func sockAccept(fd int32, flags int32, conn unsafe.Pointer) int32

func main() {}
