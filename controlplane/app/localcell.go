package app

// LocalClusterName is the name of the local cell's shared cluster record, registered by
// `cellplane local up` through the API.
const LocalClusterName = "cell-local-local-1"
