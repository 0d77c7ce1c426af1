package network

import (
	"fmt"
	"net"
)

type msgError struct {
	msg   string
	class error
}

func (e *msgError) Error() string { return e.msg }
func (e *msgError) Unwrap() error { return e.class }

func errorf(class error, format string, args ...any) error {
	return &msgError{msg: fmt.Sprintf(format, args...), class: class}
}

// parseMAC parses a MAC string (empty gives nil).
func parseMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	return net.ParseMAC(s)
}
