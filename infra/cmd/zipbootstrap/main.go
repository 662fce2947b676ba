// Command zipbootstrap packages a Lambda bootstrap binary as a
// deterministic zip and checks the result, so `make package` needs no zip
// tool:
//
//	zipbootstrap -o dist/onepassword.zip -arch arm64 dist/onepassword/bootstrap
//
// The zip holds one entry, "bootstrap", mode 0755, with a fixed
// modification time. The check refuses a package that is too large or
// whose binary is not a static Linux ELF executable for -arch.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdazip"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zipbootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "zip file to write (required)")
	arch := fs.String("arch", "arm64", "GOARCH the binary must be built for: arm64 or amd64")
	maxBytes := fs.Int64("max-bytes", lambdazip.MaxZipBytes, "largest acceptable zip size in bytes")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: zipbootstrap -o FUNCTION.zip [-arch arm64] BOOTSTRAP")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	machine, err := lambdazip.MachineFor(*arch)
	if err != nil {
		fmt.Fprintln(stderr, "zipbootstrap:", err)
		return 2
	}
	if err := lambdazip.WriteFile(*out, fs.Arg(0)); err != nil {
		fmt.Fprintln(stderr, "zipbootstrap:", err)
		return 1
	}
	info, err := lambdazip.Check(*out, lambdazip.Want{Machine: machine, MaxZipBytes: *maxBytes})
	if err != nil {
		os.Remove(*out)
		fmt.Fprintln(stderr, "zipbootstrap:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d bytes (bootstrap %d bytes, %v, %v)\n", *out, info.ZipBytes, info.BootstrapBytes, info.Machine, info.Mode)
	return 0
}
