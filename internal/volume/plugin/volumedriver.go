package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
)

// VolumeDriverInterface is the interface name a volume plugin lists in its
// /Plugin.Activate answer.
const VolumeDriverInterface = "VolumeDriver"

// Volume is a volume as a plugin describes it in Get and List answers.
type Volume struct {
	Name       string         `json:"Name"`
	Mountpoint string         `json:"Mountpoint,omitempty"`
	CreatedAt  string         `json:"CreatedAt,omitempty"`
	Status     map[string]any `json:"Status,omitempty"`
}

// VolumeDriver speaks the /VolumeDriver.* methods of Docker's volume plugin
// protocol through a Client. Every method returns the Client's error classes.
type VolumeDriver struct {
	c *Client
}

// NewVolumeDriver activates the plugin behind c and checks that it
// implements VolumeDriver (errdefs.ErrFailedPrecondition otherwise).
func NewVolumeDriver(ctx context.Context, c *Client) (*VolumeDriver, error) {
	impl, err := c.Activate(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(impl, VolumeDriverInterface) {
		return nil, fmt.Errorf("plugin %q does not implement %s (it implements %v): %w",
			c.ep.Name, VolumeDriverInterface, impl, errdefs.ErrFailedPrecondition)
	}
	return &VolumeDriver{c: c}, nil
}

// Client returns the driver's client.
func (d *VolumeDriver) Client() *Client { return d.c }

// Create asks the plugin to create volume name with the driver options opts.
func (d *VolumeDriver) Create(ctx context.Context, name string, opts map[string]string) error {
	req := struct {
		Name string
		Opts map[string]string
	}{name, opts}
	return d.c.Call(ctx, "VolumeDriver.Create", req, nil)
}

// Remove asks the plugin to delete volume name.
func (d *VolumeDriver) Remove(ctx context.Context, name string) error {
	return d.c.Call(ctx, "VolumeDriver.Remove", struct{ Name string }{name}, nil)
}

// Mount asks the plugin to make volume name available for the caller id and
// returns its host path. Each Mount is paired with an Unmount of the same id.
func (d *VolumeDriver) Mount(ctx context.Context, name, id string) (string, error) {
	var resp struct{ Mountpoint string }
	req := struct{ Name, ID string }{name, id}
	if err := d.c.Call(ctx, "VolumeDriver.Mount", req, &resp); err != nil {
		return "", err
	}
	if resp.Mountpoint == "" {
		return "", fmt.Errorf("VolumeDriver.Mount: plugin %q returned no mountpoint for %s", d.c.ep.Name, name)
	}
	return resp.Mountpoint, nil
}

// Unmount tells the plugin that caller id no longer uses volume name.
func (d *VolumeDriver) Unmount(ctx context.Context, name, id string) error {
	return d.c.Call(ctx, "VolumeDriver.Unmount", struct{ Name, ID string }{name, id}, nil)
}

// Path returns the host path of volume name ("" when it is not mounted).
func (d *VolumeDriver) Path(ctx context.Context, name string) (string, error) {
	var resp struct{ Mountpoint string }
	if err := d.c.Call(ctx, "VolumeDriver.Path", struct{ Name string }{name}, &resp); err != nil {
		return "", err
	}
	return resp.Mountpoint, nil
}

// Get returns the plugin's view of volume name. A plugin answer without a
// volume is errdefs.ErrNotFound.
func (d *VolumeDriver) Get(ctx context.Context, name string) (Volume, error) {
	var resp struct{ Volume *Volume }
	if err := d.c.Call(ctx, "VolumeDriver.Get", struct{ Name string }{name}, &resp); err != nil {
		return Volume{}, err
	}
	if resp.Volume == nil {
		return Volume{}, fmt.Errorf("VolumeDriver.Get %s: %w", name, errdefs.ErrNotFound)
	}
	return *resp.Volume, nil
}

// List returns every volume the plugin has.
func (d *VolumeDriver) List(ctx context.Context) ([]Volume, error) {
	var resp struct{ Volumes []Volume }
	if err := d.c.Call(ctx, "VolumeDriver.List", nil, &resp); err != nil {
		return nil, err
	}
	return resp.Volumes, nil
}

// Capabilities returns the plugin's scope, "local" or "global". A plugin
// without the method (a 404, as older plugins answer) is "local", as in dockerd.
func (d *VolumeDriver) Capabilities(ctx context.Context) (string, error) {
	var resp struct{ Capabilities struct{ Scope string } }
	err := d.c.Call(ctx, "VolumeDriver.Capabilities", nil, &resp)
	if errors.Is(err, errdefs.ErrNotImplemented) {
		return "local", nil
	}
	if err != nil {
		return "", err
	}
	if resp.Capabilities.Scope == "global" {
		return "global", nil
	}
	return "local", nil
}
