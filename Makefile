# Two commands do the set-up on a fresh machine (see README):
#   make up      - preview and deploy the dev stack on the local file backend named in Pulumi.yaml
#   go test ./... - the offline test suite (make test)
STACK ?= dev
STATE_DIR := $(HOME)/.pulumi-progressive-delivery
export PULUMI_SKIP_UPDATE_CHECK := true

PULUMI_VERSION := $(shell cat .pulumi.version)

.PHONY: up preview destroy test check pulumi-version demo demo-up demo-down

# pulumi up shows the preview and asks before it changes anything.
up: pulumi-version $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

preview: pulumi-version $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK) --diff

destroy:
	pulumi destroy --stack $(STACK)

$(STATE_DIR):
	mkdir -p $@

# The CLI version is pinned once, in .pulumi.version; CI installs exactly it, local runs are told when they differ.
pulumi-version:
	@v=$$(pulumi version 2>/dev/null); [ "$$v" = "v$(PULUMI_VERSION)" ] || \
		echo "note: pulumi $$v here, the project pins v$(PULUMI_VERSION) (.pulumi.version)"

test:
	go test -timeout 30m ./...

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
