# Two commands do the set-up on a fresh machine (see README):
#   make up      - preview and deploy the dev stack on the local file backend named in Pulumi.yaml
#   go test ./... - the offline test suite (make test)
STACK ?= dev
STATE_DIR := $(HOME)/.pulumi-progressive-delivery
export PULUMI_SKIP_UPDATE_CHECK := true

.PHONY: up preview destroy test check

# pulumi up shows the preview and asks before it changes anything.
up: $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

preview: $(STATE_DIR)
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK) --diff

destroy:
	pulumi destroy --stack $(STACK)

$(STATE_DIR):
	mkdir -p $@

test:
	go test ./...

check:
	bash .ci/run
