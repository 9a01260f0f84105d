package proto

// Exec sessions: one SSH channel of type ChanExec per process started
// beside the main process (docker exec).
//
// The host opens the channel with an ExecSpec (JSON) as its extra data.
// The tether resolves user, environment and working directory in the
// container's root exactly as for the main process, starts the process and
// then, on the channel:
//
//   - sends ReqExecStarted (payload ExecStarted) once the process runs;
//   - copies the process's stdout to channel data and its stderr to
//     extended data of type 1 (SSH's stderr); with a TTY all output is
//     channel data;
//   - copies channel data to the process's stdin; the host's CloseWrite
//     (EOF) closes that stdin (not with a TTY);
//   - answers ReqExecResize (ResizeRequest) and ReqExecSignal
//     (SignalRequest) channel requests from the host;
//   - once the process was reaped and its output drained, sends
//     ReqExecExit (payload ExecExit) and closes the channel.
//
// A process that cannot start gets no ReqExecStarted: the tether sends
// ReqExecExit with Error set and docker's exit code (126 not executable,
// 127 not found) and closes the channel.
const (
	// ChanExec is the channel type of an exec session.
	ChanExec = "vch-exec"
	// ReqExecStarted (tether to host, no reply): payload ExecStarted.
	ReqExecStarted = "vch-exec-started"
	// ReqExecExit (tether to host, no reply): payload ExecExit.
	ReqExecExit = "vch-exec-exit"
	// ReqExecResize (host to tether): payload ResizeRequest.
	ReqExecResize = "vch-exec-resize"
	// ReqExecSignal (host to tether): payload SignalRequest; signals the
	// exec process's process group.
	ReqExecSignal = "vch-exec-signal"
)

// ExecSpec is the extra data of a ChanExec open.
type ExecSpec struct {
	Args       []string `json:"args"`
	Env        []string `json:"env,omitempty"` // the container's environment and the exec's additions, later wins
	User       string   `json:"user,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	Rows       uint16   `json:"rows,omitempty"` // initial TTY size; 0: the kernel's default
	Cols       uint16   `json:"cols,omitempty"`
	OpenStdin  bool     `json:"openStdin,omitempty"` // false: stdin is /dev/null
}

// ExecStarted is the payload of ReqExecStarted.
type ExecStarted struct {
	Pid int `json:"pid"`
}

// ExecExit is the payload of ReqExecExit.
type ExecExit struct {
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"` // the process could not start
}
