package sysroots

import "os"

// On Linux, crypto/x509 reads its roots from files: the first readable of
// these bundles, then certificate directories (crypto/x509's
// root_linux.go). A verifier reads the same bundle, the same way.
const filesHoldRoots = true

// bundleFiles lists the bundles crypto/x509 tries, in its order, or only
// SSL_CERT_FILE when it is set, as crypto/x509 does. The list must stay
// crypto/x509's: a root this package read from a file crypto/x509 does not
// would be trusted where Go would not trust it. TestBundleFilesAreGos
// compares the two on every Go the tests run with.
func bundleFiles() []string {
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		return []string{f}
	}
	return []string{
		"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo
		"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6, Amazon Linux (the Lambda runtime)
		"/etc/ssl/ca-bundle.pem",                            // openSUSE
		"/etc/pki/tls/cacert.pem",                           // OpenELEC
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
		"/etc/ssl/cert.pem",                                 // Alpine
	}
}
