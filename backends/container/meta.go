package container

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// metaVersion is bumped when Meta changes incompatibly.
const metaVersion = 1

// Meta is docker's view of one container, kept in compute.Spec.Meta.
type Meta struct {
	Version          int                       `json:"v"`
	Name             string                    `json:"name"` // with the leading "/"
	Created          time.Time                 `json:"created"`
	Platform         string                    `json:"platform,omitempty"`
	Config           *container.Config         `json:"config"` // merged with the image's
	HostConfig       *container.HostConfig     `json:"hostConfig"`
	NetworkingConfig *network.NetworkingConfig `json:"networkingConfig,omitempty"`
	Path             string                    `json:"path"`
	Mounts           []MountRecord             `json:"mounts,omitempty"`
	Args             []string                  `json:"args"`
	// Started is set by the first successful start (docker: StartedAt is
	// not zero), so a container whose every start failed stays "created".
	Started    bool        `json:"started,omitempty"`
	StartError *StartError `json:"startError,omitempty"`
	// RestartCount counts restarts by the policy since the user's last start.
	RestartCount int `json:"restartCount,omitempty"`
	// ManuallyStopped: the user stopped or signalled the container since
	// its last start (unless-stopped then stays down).
	ManuallyStopped bool `json:"manuallyStopped,omitempty"`
	// RestartCanceled: a stop or kill cancelled restarts until the next
	// start by the user.
	RestartCanceled bool `json:"restartCanceled,omitempty"`
}

// StartError records the last failed start, as docker keeps it in State.
type StartError struct {
	Message  string    `json:"message"`
	ExitCode int       `json:"exitCode"`
	At       time.Time `json:"at"`
}

func (m *Meta) encode() ([]byte, error) {
	m.Version = metaVersion
	return json.Marshal(m)
}

func decodeMeta(id string, b []byte) (*Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("container %s: decode meta: %w", id, err)
	}
	if m.Config == nil {
		m.Config = &container.Config{}
	}
	if m.HostConfig == nil {
		m.HostConfig = &container.HostConfig{}
	}
	return &m, nil
}
