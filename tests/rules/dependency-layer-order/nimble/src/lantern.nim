echo "lantern"
