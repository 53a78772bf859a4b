package program

import (
	"errors"
	"fmt"
	"strings"

	"github.com/progressive-delivery/platform/program/services"
	"github.com/progressive-delivery/platform/program/teams"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// object reads an object key (services, teams) with its model's parser into dst, and says whether the stack sets
// it; an absent key keeps dst.
func object[T any](cfg *config.Config, name string, dst *T, parse func(string) (T, error)) (bool, error) {
	raw, err := cfg.Try(name)
	if errors.Is(err, config.ErrMissingVar) {
		return false, nil
	}
	parsed, err := parse(raw)
	if err != nil {
		return true, err
	}
	*dst = parsed
	return true, nil
}

// read sets the key's field from the stack's value; an absent key keeps the default.
func (k Key) read(ctx *pulumi.Context, cfg *config.Config, c *Config) error {
	if k.Secret {
		value, set := k.secret(c)
		var err error
		*value, *set, err = secret(ctx, cfg, k.Name, k.check)
		return err
	}
	switch dst := k.field(c).(type) {
	case *string:
		return text(dst)(cfg, k.Name)
	case *int:
		return integer(dst)(cfg, k.Name)
	case *float64:
		return integerAsFloat(dst)(cfg, k.Name)
	case *bool:
		return boolean(dst)(cfg, k.Name)
	case *[]string:
		return list(dst)(cfg, k.Name)
	case *map[string]services.Spec:
		_, err := object(cfg, k.Name, dst, services.Parse)
		return err
	case *map[string]teams.Spec:
		set, err := object(cfg, k.Name, dst, teams.Parse)
		// {} is Pulumi.yaml's default, the CLI's value of an unset key: the teams are then derived.
		c.TeamsSet = set && len(*dst) > 0
		return err
	}
	return fmt.Errorf("%s: no reader for %T", k.Name, k.field(c))
}

// typed reads a key with one of the SDK's Try readers; a value that does not parse names the key, the value and
// the type wanted.
func typed[T any](dst *T, try func(*config.Config, string) (T, error), want string) func(*config.Config, string) error {
	return func(cfg *config.Config, key string) error {
		v, err := try(cfg, key)
		switch {
		case errors.Is(err, config.ErrMissingVar):
			return nil
		case err != nil:
			return fmt.Errorf("%s: want %s, got %q", key, want, cfg.Get(key))
		}
		*dst = v
		return nil
	}
}

func text(dst *string) func(*config.Config, string) error {
	return typed(dst, func(cfg *config.Config, key string) (string, error) {
		v, err := cfg.Try(key)
		return strings.TrimSpace(v), err
	}, "a string")
}

func integer(dst *int) func(*config.Config, string) error {
	return typed(dst, (*config.Config).TryInt, "an integer")
}

// integerAsFloat reads a key Pulumi.yaml declares integer (it has no number type) into a float field.
func integerAsFloat(dst *float64) func(*config.Config, string) error {
	return typed(dst, func(cfg *config.Config, key string) (float64, error) {
		i, err := cfg.TryInt(key)
		return float64(i), err
	}, "an integer")
}

func boolean(dst *bool) func(*config.Config, string) error {
	return typed(dst, (*config.Config).TryBool, "true or false")
}

// structured reads a list or an object; want says what is expected and how to set it.
func structured[T any](dst *T, want string) func(*config.Config, string) error {
	return func(cfg *config.Config, key string) error {
		var v T
		err := cfg.TryObject(key, &v)
		switch {
		case errors.Is(err, config.ErrMissingVar):
			return nil
		case err != nil:
			return fmt.Errorf("%s: want %s, got %q", key, strings.ReplaceAll(want, "KEY", key), cfg.Get(key))
		}
		*dst = v
		return nil
	}
}

func list(dst *[]string) func(*config.Config, string) error {
	return structured(dst, "a list of strings (pulumi config set --path 'KEY[0]' value)")
}

// secret reads a key that must have been set with --secret. The value is returned as a secret output; errors
// never contain it.
func secret(ctx *pulumi.Context, cfg *config.Config, key string, validate func(string) error) (pulumi.StringOutput, bool, error) {
	v, err := cfg.TrySecret(key)
	plain, _ := ctx.GetConfig(Project + ":" + key)
	if err != nil || plain == "" {
		return pulumi.StringOutput{}, false, nil
	}
	var errs []error
	if !ctx.IsConfigSecret(Project + ":" + key) {
		errs = append(errs, fmt.Errorf("%s: is stored in plain text; set it with `pulumi config set --secret %s <value>`", key, key))
	}
	if validate != nil {
		if err := validate(plain); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return v, true, errors.Join(errs...)
}
