# Two commands do the set-up on a fresh machine (see README):
#   make up      - preview and deploy the dev stack on the local file backend named in Pulumi.yaml
#   go test ./... - the offline test suite (make test)
STACK ?= dev
STATE_DIR := $(HOME)/.pulumi-progressive-delivery
export PULUMI_SKIP_UPDATE_CHECK := true

PULUMI_VERSION := $(shell cat .pulumi.version)

.PHONY: up preview destroy test check pulumi-version

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
	go test ./...

# gofmt, actionlint, tidy, vet, staticcheck, the e2e tools, then the tests: what CI runs.
check:
	bash .ci/run
