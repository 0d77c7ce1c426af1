package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/containerd/errdefs"
)

// Error codes of the OCI distribution specification ("Error Codes") and the
// status each is served with.
const (
	CodeBlobUnknown         = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       = "DIGEST_INVALID"
	CodeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     = "MANIFEST_INVALID"
	CodeManifestUnknown     = "MANIFEST_UNKNOWN"
	CodeNameInvalid         = "NAME_INVALID"
	CodeNameUnknown         = "NAME_UNKNOWN"
	CodeSizeInvalid         = "SIZE_INVALID"
	CodeTagInvalid          = "TAG_INVALID"
	CodeUnauthorized        = "UNAUTHORIZED"
	CodeDenied              = "DENIED"
	CodeUnsupported         = "UNSUPPORTED"
	CodeRangeInvalid        = "RANGE_INVALID"
)

// Error is a registry error as the distribution API reports it: a code from
// the specification, a message, optional detail, and the HTTP status. It
// wraps the errdefs class that matches the status, so errors.Is works with
// errdefs sentinels.
type Error struct {
	Status  int
	Code    string
	Message string
	Detail  any
	// challenge is the WWW-Authenticate value of a 401.
	challenge string
}

// Error returns the code and message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap gives the errdefs class of the status.
func (e *Error) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable:
		return errdefs.ErrInvalidArgument
	case http.StatusUnauthorized:
		return errdefs.ErrUnauthenticated
	case http.StatusForbidden:
		return errdefs.ErrPermissionDenied
	case http.StatusMethodNotAllowed:
		return errdefs.ErrNotImplemented
	}
	return errdefs.ErrUnknown
}

func newError(status int, code, msg string, detail any) *Error {
	return &Error{Status: status, Code: code, Message: msg, Detail: detail}
}

func errBlobUnknown(d string) *Error {
	return newError(http.StatusNotFound, CodeBlobUnknown, "blob unknown to registry", map[string]string{"digest": d})
}

func errUploadUnknown(id string) *Error {
	return newError(http.StatusNotFound, CodeBlobUploadUnknown, "blob upload unknown to registry", map[string]string{"uuid": id})
}

func errManifestUnknown(ref string) *Error {
	return newError(http.StatusNotFound, CodeManifestUnknown, "manifest unknown", map[string]string{"reference": ref})
}

func errDigestInvalid(msg string) *Error {
	return newError(http.StatusBadRequest, CodeDigestInvalid, msg, nil)
}

func errManifestInvalid(msg string) *Error {
	return newError(http.StatusBadRequest, CodeManifestInvalid, "manifest invalid", msg)
}

func errNameUnknown(name string) *Error {
	return newError(http.StatusNotFound, CodeNameUnknown, "repository name not known to registry", map[string]string{"name": name})
}

func errUnsupported(msg string) *Error {
	return newError(http.StatusMethodNotAllowed, CodeUnsupported, msg, nil)
}

// errorBody is the JSON document of an error response.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// asError turns any error into a registry Error: registry errors are kept,
// errdefs classes are mapped to the nearest code, and the rest is a 500.
func asError(err error) *Error {
	var re *Error
	if errors.As(err, &re) {
		return re
	}
	switch {
	case errdefs.IsNotFound(err):
		return newError(http.StatusNotFound, CodeNameUnknown, err.Error(), nil)
	case errdefs.IsInvalidArgument(err):
		return newError(http.StatusBadRequest, CodeManifestInvalid, err.Error(), nil)
	case errdefs.IsUnauthorized(err):
		return newError(http.StatusUnauthorized, CodeUnauthorized, "authentication required", nil)
	case errdefs.IsPermissionDenied(err):
		return newError(http.StatusForbidden, CodeDenied, "requested access to the resource is denied", nil)
	case errdefs.IsNotImplemented(err):
		return errUnsupported(err.Error())
	}
	return newError(http.StatusInternalServerError, "UNKNOWN", "internal server error", nil)
}

// writeError writes err as an error response. HEAD responses carry no body.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	re := asError(err)
	body, mErr := json.Marshal(errorBody{Errors: []errorEntry{{Code: re.Code, Message: re.Message, Detail: re.Detail}}})
	if mErr != nil {
		body = []byte(fmt.Sprintf(`{"errors":[{"code":%q,"message":%q}]}`, re.Code, re.Message))
	}
	if re.challenge != "" {
		w.Header().Set("WWW-Authenticate", re.challenge)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(re.Status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
