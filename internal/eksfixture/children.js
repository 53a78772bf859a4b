// children.js runs @pulumi/eks's own component code (the classes its provider constructs for eks:index:Cluster
// and eks:index:ManagedNodeGroup) under Pulumi's Node.js mocks, as a new stack's preview, with the inputs our
// program passes, and prints every resource it registers. The Go generator (gen/main.go) installs the pinned
// @pulumi/eks next to this file and writes its output to pulumi-eks.json.
//
// Usage: node children.js <inputs.json>, where inputs.json is {"components": [{"type", "name", "inputs"}]} in the
// canonical form of fixture.go: {"$unknown": true}, {"$secret": v}, {"$ref": "type::name"}.
"use strict";

// Deep enough to reach the first frame in @pulumi/eks from the SDK's registerResource.
Error.stackTraceLimit = 60;

const fs = require("fs");
const path = require("path");

const eksDir = path.dirname(require.resolve("@pulumi/eks/package.json"));
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));

// Two functions of pulumi-eks leave the process: the prerequisite checks run `kubectl version` and
// `aws --version`, and the OIDC thumbprint opens a TLS connection to oidc.eks.<region>.amazonaws.com. They are
// replaced before cluster.js loads them; the versions the checks demand are read from their source instead, and
// the thumbprint is the one internal/mocks gives (mocks.OIDCThumbprint).
const dependenciesSource = fs.readFileSync(path.join(eksDir, "dependencies.js"), "utf8");
const prerequisiteChecks = [];
stub("dependencies.js", {
    assertCompatibleKubectlVersionExists: () => prerequisiteChecks.push("kubectl"),
    assertCompatibleAWSCLIExists: () => prerequisiteChecks.push("aws"),
});
stub("cert-thumprint.js", { getIssuerCAThumbprint: () => Promise.resolve("9e99a48a9960b14926bb7f3b02e22da2b0ab7280") });

function stub(file, exports) {
    const id = path.join(eksDir, file);
    require.cache[id] = { id, filename: id, loaded: true, exports };
}

function minVersion(constName) {
    const m = dependenciesSource.match(new RegExp(`const ${constName} = "([^"]+)"`));
    if (!m) {
        throw new Error(`dependencies.js no longer defines ${constName}`);
    }
    return m[1];
}

const pulumi = require("@pulumi/pulumi");
const { MockMonitor } = require(path.join(pulumiDir, "runtime", "mocks.js"));
const rpc = require(path.join(pulumiDir, "runtime", "rpc.js"));
const OutputImpl = require(path.join(pulumiDir, "output.js")).Output;

// The mock monitor does not hand the parent or the wire form of the inputs to newResource, so registerResource is
// wrapped to keep both, with the URN the mock gives the resource.
const registered = [];
const registerResource = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (req, callback) {
    registered.push({
        type: req.getType(),
        name: req.getName(),
        urn: this.newUrn(req.getParent(), req.getType(), req.getName()),
        parentURN: req.getParent(),
        custom: req.getCustom(),
        inputs: req.getObject() ? req.getObject().toJavaScript() : {},
    });
    return registerResource.call(this, req, callback);
};

// Where in @pulumi/eks each resource is declared: the first frame in its files when the SDK registers it.
const declaredAt = new Map();
const resourceRuntime = require(path.join(pulumiDir, "runtime", "resource.js"));
const runtimeRegister = resourceRuntime.registerResource;
resourceRuntime.registerResource = function (res, parent, t, name, ...rest) {
    const frame = (new Error().stack || "").split("\n").find((l) => l.includes(eksDir + path.sep));
    const m = frame && frame.match(/([^/\\(]+\.js):(\d+):\d+/);
    if (m) {
        declaredAt.set(`${t}::${name}`, `${m[1]}:${m[2]}`);
    }
    return runtimeRegister.call(this, res, parent, t, name, ...rest);
};

pulumi.runtime.setMocks(
    {
        // A preview: a resource's outputs are its inputs, and nothing the provider computes is known.
        newResource: (args) => ({ id: undefined, state: args.inputs }),
        call: (args) => {
            switch (args.token) {
                case "aws:index/getPartition:getPartition":
                    return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
                case "aws:index/getRegion:getRegion":
                    return { name: "us-west-1", id: "us-west-1" };
            }
            throw new Error(`children.js: no mock for ${args.token}`);
        },
    },
    "progressive-delivery",
    "fixture",
    true,
);

const aws = require("@pulumi/aws");
const { ClusterInternal } = require(path.join(eksDir, "cluster.js"));
const { ManagedNodeGroupInternal } = require(path.join(eksDir, "nodegroup.js"));

const unknownOutput = () => new OutputImpl(new Set(), Promise.resolve(undefined), Promise.resolve(false),
    Promise.resolve(false), Promise.resolve(new Set()));

// The components built so far, and the resources of our program they reference, declared here as mocks.
const built = new Map();
const referenced = new Map();
function reference(ref) {
    if (built.has(ref)) {
        return built.get(ref);
    }
    if (!referenced.has(ref)) {
        const [type, name] = ref.split("::");
        if (type !== "aws:iam/role:Role") {
            throw new Error(`children.js: no stand-in for a reference to ${type}`);
        }
        referenced.set(ref, new aws.iam.Role(name, { assumeRolePolicy: "{}" }));
    }
    return referenced.get(ref);
}

function toInput(v) {
    if (Array.isArray(v)) {
        return v.map(toInput);
    }
    if (v === null || typeof v !== "object") {
        return v;
    }
    if (v.$unknown) {
        return unknownOutput();
    }
    if ("$secret" in v) {
        return pulumi.secret(toInput(v.$secret));
    }
    if (v.$ref) {
        return reference(v.$ref);
    }
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, toInput(e)]));
}

// canonical turns wire-form values into fixture.go's canonical form.
function canonical(v) {
    if (v === rpc.unknownValue) {
        return { $unknown: true };
    }
    if (Array.isArray(v)) {
        return v.map(canonical);
    }
    if (v === null || typeof v !== "object") {
        return v;
    }
    switch (v[rpc.specialSigKey]) {
        case rpc.specialSecretSig:
            return { $secret: canonical(v.value) };
        case rpc.specialResourceSig:
            return { $ref: typeAndName(v.urn) };
        case undefined:
            return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
    }
    throw new Error(`children.js: unexpected value ${JSON.stringify(v)}`);
}

function typeAndName(urn) {
    const parts = urn.split("::");
    const types = parts[2].split("$");
    return `${types[types.length - 1]}::${parts[3]}`;
}

async function main() {
    const { components } = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    for (const c of components) {
        const inputs = toInput(c.inputs);
        switch (c.type) {
            case "eks:index:Cluster":
                built.set(`${c.type}::${c.name}`, new ClusterInternal(c.name, inputs));
                break;
            case "eks:index:ManagedNodeGroup":
                built.set(`${c.type}::${c.name}`, new ManagedNodeGroupInternal(c.name, inputs));
                break;
            default:
                throw new Error(`children.js: no pulumi-eks class for ${c.type}`);
        }
    }
    await pulumi.runtime.waitForRPCs();

    const byURN = new Map();
    for (const r of registered) {
        r.key = `${r.type}::${r.name}`;
        byURN.set(r.urn, r);
    }
    const inComponent = (r) => {
        for (let p = byURN.get(r.parentURN); p; p = byURN.get(p.parentURN)) {
            if (built.has(p.key)) {
                return true;
            }
        }
        return false;
    };
    const children = registered
        .filter(inComponent)
        .map((r) => ({
            type: r.type,
            name: r.name,
            parent: byURN.get(r.parentURN).key,
            custom: r.custom,
            declaredAt: declaredAt.get(r.key) || "",
            inputs: canonical(r.inputs),
        }))
        .sort((a, b) => (a.name + a.type < b.name + b.type ? -1 : 1));
    const pkg = JSON.parse(fs.readFileSync(path.join(eksDir, "package.json"), "utf8"));
    process.stdout.write(JSON.stringify({
        pulumiEks: pkg.version,
        prerequisites: {
            checkedOnEveryRun: [...new Set(prerequisiteChecks)].sort(),
            kubectl: minVersion("minKubectlVersion"),
            awsCliV1: minVersion("minAWSCLIV1Version"),
            awsCliV2: minVersion("minAWSCLIV2Version"),
        },
        components,
        children,
    }, null, 2) + "\n");
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
