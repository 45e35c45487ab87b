package postgres_test

import (
	"context"
	"testing"

	"github.com/cellplane/cellplane/controlplane"
	"github.com/cellplane/cellplane/controlplane/harness"
	"github.com/cellplane/cellplane/controlplane/postgres"
	"github.com/cellplane/cellplane/controlplane/secrets"
	"github.com/cellplane/cellplane/migrations"
)

func TestMain(m *testing.M) { harness.Main(m) }

// TestOrgScopeInTheStore checks the second line of defence: even called directly, with
// no HTTP layer in front, the store confines an org principal to its own org.
func TestOrgScopeInTheStore(t *testing.T) {
	ctx := context.Background()
	url := harness.Postgres(t)
	if err := migrations.ApplyURL(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	keyring, _ := secrets.ParseMasterKey(secrets.GenerateMasterKey())
	db := postgres.NewDB(pool, keyring)
	orgs, keys, clusters := postgres.NewOrgService(db), postgres.NewKeyService(db), postgres.NewClusterService(db)
	capacity := 10
	if _, err := clusters.CreateCluster(ctx, controlplane.ClusterCreate{Name: "cell", Cloud: "local", Region: "local", Kind: "shared",
		LiveKitURL: "ws://127.0.0.1:7880", LiveKitAPIKey: "k", LiveKitAPISecret: "0123456789abcdef0123456789abcdef", Capacity: &capacity}); err != nil {
		t.Fatal(err)
	}
	for _, slug := range []string{"mine", "theirs"} {
		if _, _, err := orgs.CreateOrg(ctx, controlplane.OrgCreate{Slug: slug, Name: slug, Tier: "shared", Cloud: "local", Region: "local", Version: "1.0.0", Sizing: "small"}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := keys.CreateKey(ctx, "mine", controlplane.APIKeyCreate{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := keys.Authenticate(ctx, key.Token)
	if err != nil || p.OrgSlug != "mine" || p.Admin {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	theirKey, _ := keys.CreateKey(ctx, "theirs", controlplane.APIKeyCreate{Name: "k"})
	as := controlplane.NewContextWithPrincipal(ctx, p)

	notFound := func(what string, err error) {
		t.Helper()
		if controlplane.ErrorCode(err) != controlplane.ENOTFOUND || controlplane.ErrorMessage(err) != `org "theirs" not found` {
			t.Errorf("%s: %v, want the missing-org error", what, err)
		}
	}
	_, err = orgs.FindOrgBySlug(as, "theirs")
	notFound("find", err)
	v := "9.9.9"
	_, err = orgs.UpdateOrg(as, "theirs", controlplane.OrgUpdate{Version: &v})
	notFound("update", err)
	_, err = orgs.DeleteOrg(as, "theirs")
	notFound("delete", err)
	_, err = keys.CreateKey(as, "theirs", controlplane.APIKeyCreate{Name: "x"})
	notFound("create key", err)
	_, err = keys.FindKeys(as, "theirs")
	notFound("list keys", err)
	notFound("delete key", keys.DeleteKey(as, "theirs", theirKey.ID))
	// Its own key id under its own org does not reach the other org's key either.
	if err := keys.DeleteKey(as, "mine", theirKey.ID); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Errorf("delete another org's key through one's own org: %v", err)
	}
	list, more, err := orgs.FindOrgs(as, controlplane.OrgFilter{})
	if err != nil || more || len(list) != 1 || list[0].Slug != "mine" {
		t.Fatalf("an org principal lists %v", list)
	}
	if _, _, err := orgs.CreateOrg(as, controlplane.OrgCreate{Slug: "new", Name: "n", Tier: "shared", Cloud: "local", Region: "local", Version: "1.0.0", Sizing: "small"}); controlplane.ErrorCode(err) != controlplane.EFORBIDDEN {
		t.Fatalf("an org principal created an org: %v", err)
	}
	if _, err := clusters.FindClusters(as, controlplane.ClusterFilter{}); controlplane.ErrorCode(err) != controlplane.EFORBIDDEN {
		t.Fatalf("an org principal listed clusters: %v", err)
	}
	// An org principal without an org sees nothing at all.
	empty := controlplane.NewContextWithPrincipal(ctx, &controlplane.Principal{})
	if list, _, _ := orgs.FindOrgs(empty, controlplane.OrgFilter{}); len(list) != 0 {
		t.Fatalf("a principal with no org lists %v", list)
	}
	// Nothing of theirs changed; their key still works.
	o, err := orgs.FindOrgBySlug(ctx, "theirs")
	if err != nil || o.Version != "1.0.0" || o.Status != controlplane.OrgProvisioning {
		t.Fatalf("theirs changed: %+v %v", o, err)
	}
	if _, err := keys.Authenticate(ctx, theirKey.Token); err != nil {
		t.Fatal(err)
	}
	// Its own org it can read.
	if _, err := orgs.FindOrgBySlug(as, "mine"); err != nil {
		t.Fatal(err)
	}
}
