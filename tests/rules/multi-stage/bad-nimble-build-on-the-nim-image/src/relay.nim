echo "relay"
