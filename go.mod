module swarmdeck

go 1.26

require (
	github.com/docker/go-connections v0.8.2
	github.com/docker/go-units v0.5.0
	github.com/spf13/pflag v1.1.0
	go.yaml.in/yaml/v3 v3.0.6
)
