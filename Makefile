# Two commands do the set-up on a fresh machine (see README):
#   make up      - preview and deploy the dev stack on the local file backend named in Pulumi.yaml
#   make test    - the offline test suite
STACK ?= dev
STATE_DIR := $(HOME)/.pulumi-progressive-delivery
export PULUMI_SKIP_UPDATE_CHECK := true
# The flags .ci/run, tests/e2e/tools.sh and the Go language host build with: every go command here shares one build
# cache with them. Without them, the tests after a `make up` (or the reverse) compiled every SDK again, about 10
# minutes on 2 cores.
export GOFLAGS := -trimpath -gcflags=all=-dwarf=false

PULUMI_VERSION := $(shell cat .pulumi.version)

.PHONY: up preview destroy test test-e2e check prerequisites pulumi-version demo demo-up demo-down

# pulumi up shows the preview and asks before it changes anything.
up: prerequisites pulumi-version $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

preview: prerequisites pulumi-version $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK) --diff

destroy:
	pulumi destroy --stack $(STACK)

$(STATE_DIR):
	mkdir -p $@

# pulumi-eks 2.8.1 checks for kubectl >= 1.24.0 and the AWS CLI (v1 >= 1.24.0, v2 >= 2.7.0) on every run that
# builds its cluster, previews included (cluster.js createCore); name a missing one before the CLI's own error.
prerequisites:
	@missing=""; for tool in pulumi kubectl aws; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "missing:$$missing. Install the Pulumi CLI (.pulumi.version), kubectl >= 1.24.0 and AWS CLI v2 >= 2.7.0 (README, Prerequisites)" >&2; \
		exit 1; \
	fi

# The CLI version is pinned once, in .pulumi.version; CI installs exactly it, local runs are told when they differ.
pulumi-version:
	@v=$$(pulumi version 2>/dev/null); [ "$$v" = "v$(PULUMI_VERSION)" ] || \
		echo "note: pulumi $$v here, the project pins v$(PULUMI_VERSION) (.pulumi.version)"

test:
	go test -timeout 30m ./...

# The real-engine suite (simulated cluster, real Pulumi CLI and Flagger); needs root and the tools below.
test-e2e:
	$(TOOLS) && go test -tags e2e -timeout 60m ./tests/

# The walkthrough's canary on this machine, no AWS account: a simulated cluster, the real Flagger, this program.
# tools.sh builds what it needs once (17 to 40 minutes on 2 cores, measured) and reuses it after.
TOOLS := eval "$$(bash tests/e2e/tools.sh)"

demo:
	$(TOOLS) && go run ./cmd/demo

demo-up:
	$(TOOLS) && go run ./cmd/demo up

demo-down:
	go run ./cmd/demo down

# gofmt, actionlint, tidy, vet, staticcheck, the e2e tools, then the tests: what CI runs.
check:
	bash .ci/run
