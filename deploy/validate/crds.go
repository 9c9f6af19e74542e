package main

// The operators' kinds: RabbitmqCluster (RabbitMQ Cluster Operator) and MongoDBCommunity (MongoDB
// Community Operator). Their Go types live in the operators' own modules, which would bring in
// controller-runtime and their whole dependency trees, so each spec is checked against a JSON
// schema pinned beside this file, written from the fields the operators document, and the
// Kubernetes types embedded in it (affinity, resources, the StatefulSet override's pod spec) are
// decoded strictly into k8s.io/api as the built-in kinds are. The objects each operator makes are
// registered too, so that references to them resolve: the pods (by their labels, for PDBs and
// NetworkPolicies) and the RabbitMQ default user's Secret.

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

//go:embed rabbitmqcluster.schema.json
var rabbitmqClusterSchema []byte

//go:embed mongodbcommunity.schema.json
var mongoDBCommunitySchema []byte

// customResource is an operator's object: the metadata typed, the spec kept for its schema.
type customResource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              json.RawMessage `json:"spec"`
}

// compileSchema compiles one of the pinned schemas; they are part of this program, so a broken one
// is a bug that stops it.
func compileSchema(name string, raw []byte) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return c.MustCompile(name)
}

var (
	rabbitmqClusterSpec  = compileSchema("urn:wavecom:rabbitmqcluster.schema.json", rabbitmqClusterSchema)
	mongoDBCommunitySpec = compileSchema("urn:wavecom:mongodbcommunity.schema.json", mongoDBCommunitySchema)
)

// checkSpec validates a custom resource's spec against its schema and returns it decoded, or nil.
func (o *objects) checkSpec(where string, schema *jsonschema.Schema, cr *customResource) map[string]any {
	if len(cr.Spec) == 0 {
		o.fail("%s: no spec", where)
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(cr.Spec))
	if err == nil {
		err = schema.Validate(inst)
	}
	if err != nil {
		o.fail("%s: %v", where, err)
		return nil
	}
	spec, _ := inst.(map[string]any)
	return spec
}

// decodeEmbedded decodes the value at path in spec strictly into out (a k8s.io/api type); a
// missing value is no problem.
func (o *objects) decodeEmbedded(where string, spec map[string]any, out any, path ...string) {
	var value any = spec
	for _, key := range path {
		m, ok := value.(map[string]any)
		if !ok {
			return
		}
		if value, ok = m[key]; !ok {
			return
		}
	}
	raw, err := json.Marshal(value)
	if err == nil {
		err = yaml.UnmarshalStrict(raw, out)
	}
	if err != nil {
		o.fail("%s: %v", where, err)
	}
}

func (o *objects) keepRabbitmqCluster(name string, cr *customResource) {
	// The operator labels the cluster's pods, and writes the default user's credentials to a
	// Secret named after it, whatever the spec says.
	o.pods = append(o.pods, labels.Set{
		"app.kubernetes.io/name": name, "app.kubernetes.io/component": "rabbitmq",
		"app.kubernetes.io/part-of": "rabbitmq",
	})
	o.secrets[name+"-default-user"] = &corev1.Secret{StringData: map[string]string{
		"username": "", "password": "", "host": "", "port": "", "provider": "", "type": "",
		"default_user.conf": "",
	}}
	where := "RabbitmqCluster " + name
	spec := o.checkSpec(where, rabbitmqClusterSpec, cr)
	if spec == nil {
		return
	}
	o.decodeEmbedded(where+", affinity", spec, &corev1.Affinity{}, "affinity")
	o.decodeEmbedded(where+", resources", spec, &corev1.ResourceRequirements{}, "resources")
	o.decodeEmbedded(where+", tolerations", spec, &[]corev1.Toleration{}, "tolerations")
	o.decodeEmbedded(where+", override.statefulSet pod spec", spec, &corev1.PodSpec{},
		"override", "statefulSet", "spec", "template", "spec")
}

func (o *objects) keepMongoDBCommunity(name string, cr *customResource) {
	// The operator's StatefulSet labels its pods app: <name>-svc, after the headless Service.
	o.pods = append(o.pods, labels.Set{"app": name + "-svc"})
	where := "MongoDBCommunity " + name
	spec := o.checkSpec(where, mongoDBCommunitySpec, cr)
	if spec == nil {
		return
	}
	o.decodeEmbedded(where+", statefulSet pod spec", spec, &corev1.PodSpec{},
		"statefulSet", "spec", "template", "spec")
	o.mongoUsers = append(o.mongoUsers, mongoUsersOf(where, spec)...)
}

// mongoUser is a user of a MongoDBCommunity and the Secret key its password is read from.
type mongoUser struct {
	where, secret, key string
}

func mongoUsersOf(where string, spec map[string]any) []mongoUser {
	var users []mongoUser
	list, _ := spec["users"].([]any)
	for _, u := range list {
		user, _ := u.(map[string]any)
		ref, _ := user["passwordSecretRef"].(map[string]any)
		secret, _ := ref["name"].(string)
		key, _ := ref["key"].(string)
		if key == "" {
			key = "password" // the operator's default
		}
		users = append(users, mongoUser{fmt.Sprintf("%s, user %v", where, user["name"]), secret, key})
	}
	return users
}

// checkCustomResources checks what needs every object decoded first: the password Secrets exist.
func (o *objects) checkCustomResources() {
	for _, u := range o.mongoUsers {
		if !o.secretHasKey(u.secret, u.key) {
			o.fail("%s: Secret %s has no key %s", u.where, u.secret, u.key)
		}
	}
}
