package report

import (
	"fmt"
	"time"
)

// Target names one of the two daemons under test.
type Target string

const (
	VCH     Target = "vch"
	Dockerd Target = "dockerd"
)

// Better says which direction of a figure is good.
type Better string

const (
	Lower  Better = "lower"
	Higher Better = "higher"
)

// Value is one figure on one target: a number, or the reason there is none.
type Value struct {
	Value   *float64  `json:"value,omitempty"`
	NA      string    `json:"na,omitempty"`
	Samples []float64 `json:"samples,omitempty"` // the repetitions the value summarises
}

// Set reports whether v holds a number.
func (v Value) Set() bool { return v.Value != nil }

// Row is one figure measured on both targets.
type Row struct {
	Section string   `json:"section"`
	Key     string   `json:"key"`
	Label   string   `json:"label"`
	Unit    string   `json:"unit"`
	Better  Better   `json:"better"`
	VCH     Value    `json:"vch"`
	Dockerd Value    `json:"dockerd"`
	Ratio   *float64 `json:"ratio,omitempty"` // vch ÷ dockerd, when both are set and positive
}

// Machine describes where the run happened.
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryMiB   int64  `json:"memoryMiB"`
	Accelerator string `json:"accelerator"` // what vch's container VMs ran with: kvm or tcg
	Kernel      string `json:"kernel"`
	QEMU        string `json:"qemu"`
	Dockerd     string `json:"dockerd"`
	Containerd  string `json:"containerd"`
	Runc        string `json:"runc"`
	DockerCLI   string `json:"dockerCLI"`
	VCH         string `json:"vch"`
}

// Options record how the run was asked for.
type Options struct {
	Runs int      `json:"runs"`
	Only []string `json:"only,omitempty"`
}

// Report is everything one run produced.
type Report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Options  Options   `json:"options"`
	Rows     []*Row    `json:"rows"`
	Notes    []string  `json:"notes,omitempty"` // failures and caveats met during the run
	index    map[string]*Row
}

// New returns an empty report started now.
func New(now time.Time, opts Options) *Report {
	return &Report{Started: now, Options: opts, index: map[string]*Row{}}
}

// Define adds a row, n/a on both targets until Set. Defining a key twice
// keeps the first definition.
func (r *Report) Define(section, key, label, unit string, better Better) {
	if _, ok := r.index[key]; ok {
		return
	}
	row := &Row{Section: section, Key: key, Label: label, Unit: unit, Better: better,
		VCH: Value{NA: "not measured"}, Dockerd: Value{NA: "not measured"}}
	r.index[key] = row
	r.Rows = append(r.Rows, row)
}

// Set records the figure of key on target.
func (r *Report) Set(key string, t Target, v float64) error {
	row, err := r.row(key)
	if err != nil {
		return err
	}
	val := Value{Value: &v}
	r.assign(row, t, val)
	return nil
}

// SetSamples records the figure of key on target with the samples it
// summarises (kept in the JSON for later analysis).
func (r *Report) SetSamples(key string, t Target, v float64, samples []float64) error {
	row, err := r.row(key)
	if err != nil {
		return err
	}
	r.assign(row, t, Value{Value: &v, Samples: samples})
	return nil
}

// NA records why key has no figure on target.
func (r *Report) NA(key string, t Target, reason string) error {
	row, err := r.row(key)
	if err != nil {
		return err
	}
	r.assign(row, t, Value{NA: reason})
	return nil
}

// Row returns the row of key, or nil.
func (r *Report) Row(key string) *Row { return r.index[key] }

// Note records a failure or caveat for the reader.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Report) row(key string) (*Row, error) {
	row, ok := r.index[key]
	if !ok {
		return nil, fmt.Errorf("report: row %q was not defined", key)
	}
	return row, nil
}

func (r *Report) assign(row *Row, t Target, v Value) {
	switch t {
	case VCH:
		row.VCH = v
	default:
		row.Dockerd = v
	}
	row.Ratio = nil
	// a ratio of a negative or zero figure (a daemon that shrank) means nothing
	if row.VCH.Set() && row.Dockerd.Set() && *row.VCH.Value > 0 && *row.Dockerd.Value > 0 {
		q := *row.VCH.Value / *row.Dockerd.Value
		row.Ratio = &q
	}
}
