package helper

import (
	"fmt"
	"strconv"
)

// ModelServer is what cloud-init adds to a helper that serves model
// inference (a helper acquired with Need.ModelServer): packages, files and
// commands. The server must listen on 127.0.0.1:Port only; PatchGit reaches
// it through SSH channels, never a public port. A helper acquired
// without Need.ModelServer gets none of it.
type ModelServer struct {
	Port       int
	Packages   []string    // installed with the helper's own packages
	WriteFiles []CloudFile // written before RunCmd (cloud-init's write_files)
	RunCmd     []string    // run once at first boot, in order (cloud-init's runcmd)
}

// CloudFile is one cloud-init write_files entry.
type CloudFile struct {
	Path        string `yaml:"path"`
	Content     string `yaml:"content"`
	Permissions string `yaml:"permissions,omitempty"`
}

// OllamaSetup installs Ollama with its official install script, bound to
// 127.0.0.1:port by a systemd drop-in written before the script runs (the
// script enables and starts the service), and pulls model. The script
// needs curl and, for its .tar.zst package, zstd. Pulling a model of a few
// GB takes minutes: the tier's ready_timeout covers it.
func OllamaSetup(port int, model string) ModelServer {
	host := "127.0.0.1:" + strconv.Itoa(port)
	return ModelServer{
		Port:     port,
		Packages: []string{"curl", "ca-certificates", "zstd"},
		WriteFiles: []CloudFile{{
			Path:        "/etc/systemd/system/ollama.service.d/patchgit.conf",
			Content:     fmt.Sprintf("[Service]\nEnvironment=\"OLLAMA_HOST=%s\"\n", host),
			Permissions: "0644",
		}},
		RunCmd: []string{
			"curl -fsSL https://ollama.com/install.sh | sh",
			"OLLAMA_HOST=" + host + " ollama pull " + shellQuote(model),
		},
	}
}
