package distribution

import "github.com/containerd/errdefs"

// Docker's texts that start with a capital letter.
const (
	schema1Removed = "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed"
	opGet          = "Get"
)

// NotLocalError is Docker's "An image does not exist locally with the tag:
// NAME", classified as errdefs.ErrNotFound.
type NotLocalError struct {
	// Name is the repository in its familiar form.
	Name string
}

// Error returns Docker's text.
func (e *NotLocalError) Error() string {
	return "An image does not exist locally with the tag: " + e.Name
}

// Unwrap classifies the error as errdefs.ErrNotFound.
func (e *NotLocalError) Unwrap() error { return errdefs.ErrNotFound }
