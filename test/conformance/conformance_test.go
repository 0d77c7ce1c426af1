//go:build conformance

// Package conformance runs the OCI distribution-spec conformance suite (the
// `conformance` program, installed by scripts/install-test-deps.sh into
// bin/tools) against a real `berthd registry` on 127.0.0.1, with the
// suite's defaults (sha512 included) and again with its optional APIs and
// with token auth. Any failed check fails the test, which prints the
// failing checks.
package conformance

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth/internal/testutil"
)

// conformanceBin is where scripts/install-test-deps.sh puts the suite.
func conformanceBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OCI_CONFORMANCE_BIN"); p != "" {
		return p
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "bin", "tools", "conformance")
}

// startRegistry runs `berthd registry` on a free loopback port with a
// fresh root and returns its address; the process is stopped at cleanup.
func startRegistry(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := testutil.Binary("berthd")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	args = append([]string{"registry", "--addr", "127.0.0.1:0", "--root", filepath.Join(t.TempDir(), "root"), "--log-level", "info"}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	// The server logs its address once it listens.
	sc := bufio.NewScanner(stderr)
	addr := ""
	for addr == "" && sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if i := strings.Index(line, " addr="); i >= 0 && strings.Contains(line, "registry listening") {
			addr, _, _ = strings.Cut(line[i+len(" addr="):], " ")
		}
	}
	if addr == "" {
		t.Fatal("berthd registry exited before listening")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return addr
}

type junitCase struct {
	Name    string `xml:"name,attr"`
	Status  string `xml:"status,attr"`
	Failure *struct {
		Message string `xml:"message,attr"`
		Data    string `xml:",cdata"`
	} `xml:"failure"`
	Error *struct {
		Message string `xml:"message,attr"`
	} `xml:"error"`
}

type junitSuites struct {
	Suites []struct {
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Cases    []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

// runSuite runs the conformance program against addr with env added to the
// defaults, and fails t on any failed check.
func runSuite(t *testing.T, addr string, env ...string) {
	t.Helper()
	bin := conformanceBin(t)
	testutil.Require(t, testutil.Prereq{Name: "OCI conformance suite (make test-deps)", Check: func() bool {
		_, err := os.Stat(bin)
		return err == nil
	}})
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir // no oci-conformance.yaml here
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+addr,
		"OCI_TLS=disabled",
		"OCI_REPO1=berth/test",
		"OCI_REPO2=berth/other",
		"OCI_RESULTS_DIR="+results,
		"OCI_LOG=error",
	)
	cmd.Env = append(cmd.Env, env...)
	out, runErr := cmd.CombinedOutput()
	b, err := os.ReadFile(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatalf("conformance: no results (%v): %v\n%s", runErr, err, out)
	}
	var js junitSuites
	if err := xml.Unmarshal(b, &js); err != nil {
		t.Fatalf("conformance: junit.xml: %v", err)
	}
	total, failed := 0, 0
	for _, s := range js.Suites {
		total += s.Tests
		failed += s.Failures + s.Errors
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				t.Errorf("FAIL %s: %s\n%.2000s", c.Name, c.Failure.Message, c.Failure.Data)
			case c.Error != nil:
				t.Errorf("ERROR %s: %s", c.Name, c.Error.Message)
			}
		}
	}
	t.Logf("conformance: %d passed, %d failed", total-failed, failed)
	if runErr != nil || failed > 0 || total == 0 {
		t.Fatalf("conformance suite failed (%v); summary:\n%s", runErr, out)
	}
}

// TestConformance_Defaults is the suite as the issue requires it: its
// defaults, sha512 digests included, zero failures.
func TestConformance_Defaults(t *testing.T) {
	runSuite(t, startRegistry(t))
}

// TestConformance_OptionalAPIs adds the optional checks: tag parameters on
// a push by digest, upload cancel and required digest headers.
func TestConformance_OptionalAPIs(t *testing.T) {
	runSuite(t, startRegistry(t),
		"OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
	)
}

// TestConformance_TokenAuth runs the suite through Docker token auth, with
// the registry issuing its own tokens to an htpasswd user.
func TestConformance_TokenAuth(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "token.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("s3cret"))
	users := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(users, []byte(fmt.Sprintf("conformance:{SHA}%s\n", base64.StdEncoding.EncodeToString(sum[:]))), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRegistry(t, "--htpasswd", users, "--token-issue", "--token-key", keyFile)
	runSuite(t, addr, "OCI_USERNAME=conformance", "OCI_PASSWORD=s3cret")
}
