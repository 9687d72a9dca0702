
def fuzz(assay, root, mutations):
    return 0, 0, {}
